import { decodePoint } from "@pairkit/core";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { ApiError } from "../errors.ts";
import {
  DevCardsReply,
  DevTokenBody,
  DevTokenReply,
  DevTrustAnchorsReply,
  errorReplies,
  VehicleCredentialBody,
  VehicleCredentialReply,
  VehicleId,
} from "../http/schemas.ts";
import type { Services } from "../services.ts";
import { issueVehicleCredential } from "../vehicles/credentials.ts";

/** A simulated Active Card as the console shows it: its QR code, as text and as a PNG image. */
export interface DevCard {
  readonly name: string;
  readonly qrText: string;
  readonly qrPngBase64: string;
}

/** What the composition root knows of the simulated world (the demo fleet, the cards). */
export interface DevFixtures {
  /** DER certificates of the carmaker roots a development phone trusts. */
  trustAnchors(): readonly Uint8Array[];
  cards(): readonly DevCard[];
}

/**
 * Development-only helpers: a token for a seeded user, the dev issuer's JWKS, MQTT credentials
 * for the vehicle simulator, and the simulated world's trust anchors and cards (empty when the
 * server runs without fixtures). Registered only in development mode; in production the routes do
 * not exist, and each handler re-checks the mode so a wiring mistake still fails closed.
 */
export async function devRoutes(
  app: FastifyInstance,
  services: Services,
  fixtures: DevFixtures | undefined,
): Promise<void> {
  const { devIssuer } = services;
  const requireDevelopment = () => {
    if (services.config.mode !== "development" || devIssuer === undefined) {
      throw new ApiError("FORBIDDEN", "development endpoints are disabled");
    }
    return devIssuer;
  };

  app.post<{ Body: { userId: string; ttlSeconds?: number } }>(
    "/dev/token",
    {
      schema: {
        tags: ["dev"],
        summary: "Mint a user token (development mode only)",
        body: DevTokenBody,
        response: { 200: DevTokenReply, ...errorReplies },
      },
    },
    async (request) => {
      const issuer = requireDevelopment();
      const user = await services.db
        .selectFrom("users")
        .select("id")
        .where("id", "=", request.body.userId)
        .executeTakeFirst();
      if (!user) throw new ApiError("NOT_FOUND", "no such user");
      const expiresIn = request.body.ttlSeconds ?? 3600;
      return { token: await issuer.mint(user.id, expiresIn, services.clock.now()), expiresIn };
    },
  );

  app.get(
    "/dev/jwks.json",
    { schema: { tags: ["dev"], summary: "The development issuer's public keys" } },
    async () => {
      return requireDevelopment().jwks;
    },
  );

  app.get(
    "/dev/mailbox",
    { schema: { tags: ["dev"], summary: "E-mails the development SMTP sink received" } },
    async () => {
      requireDevelopment();
      return { messages: services.mailer.sinkMessages ?? [] };
    },
  );

  app.post<{ Params: { vehicleId: string }; Body: { identityPublicKey?: string } }>(
    "/dev/vehicles/:vehicleId/credentials",
    {
      schema: {
        tags: ["dev"],
        summary: "Issue MQTT credentials to a (simulated) vehicle, optionally registering its identity key",
        params: Type.Object({ vehicleId: VehicleId }),
        body: VehicleCredentialBody,
        response: { 200: VehicleCredentialReply, ...errorReplies },
      },
    },
    async (request) => {
      requireDevelopment();
      const { vehicleId } = request.params;
      const { identityPublicKey } = request.body;
      if (identityPublicKey !== undefined) {
        const key = new Uint8Array(Buffer.from(identityPublicKey, "base64"));
        try {
          decodePoint(key, "identityPublicKey");
        } catch (cause) {
          throw new ApiError("BAD_REQUEST", "identityPublicKey is not a valid P-256 point", { cause });
        }
        await services.db
          .updateTable("vehicles")
          .set({ identityPublicKey: key })
          .where("id", "=", vehicleId)
          .execute();
      }
      const password = await issueVehicleCredential(services.db, services.crypto, vehicleId);
      return {
        vehicleId,
        mqttUrl: services.mqttUrl,
        username: vehicleId,
        clientId: `vehicle-${vehicleId}`,
        password,
      };
    },
  );

  app.get(
    "/dev/trust-anchors",
    {
      schema: {
        tags: ["dev"],
        summary: "Carmaker root certificates the development phone trusts (base64 DER)",
        response: { 200: DevTrustAnchorsReply, ...errorReplies },
      },
    },
    async () => {
      requireDevelopment();
      const anchors = fixtures?.trustAnchors() ?? [];
      return { certificates: anchors.map((der) => Buffer.from(der).toString("base64")) };
    },
  );

  app.get(
    "/dev/cards",
    {
      schema: {
        tags: ["dev"],
        summary: "The simulated Active Cards and their QR codes",
        response: { 200: DevCardsReply, ...errorReplies },
      },
    },
    async () => {
      requireDevelopment();
      return { cards: fixtures?.cards() ?? [] };
    },
  );
}
