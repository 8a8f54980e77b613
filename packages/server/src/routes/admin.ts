import { decodePoint } from "@pairkit/core";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { appendAudit } from "../audit/audit-log.ts";
import { authenticateAdmin } from "../auth/authenticator.ts";
import { hashLowEntropySecret } from "../auth/secret-hash.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { ApiError } from "../errors.ts";
import {
  errorReplies,
  NewUserBody,
  NewVehicleBody,
  OwnershipBody,
  SubscriptionBody,
  VehicleCredentialReply,
  VehicleId,
} from "../http/schemas.ts";
import type { Services } from "../services.ts";
import { issueVehicleCredential } from "../vehicles/credentials.ts";

const Created = Type.Object({ created: Type.Literal(true) });

/**
 * Phase 0 registration for the carmaker's back office: users, vehicles (identity key, MQTT
 * credential), ownership with the owner PIN, subscriptions. Admin role only; every change audited.
 */
export async function adminRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const { db, crypto, clock, changes } = services;
  const admin = (request: FastifyRequest) =>
    authenticateAdmin(services.authenticate, request.headers.authorization);
  const audited = async (
    actor: string,
    event: string,
    vehicleId: string | null,
    detail: Record<string, unknown>,
  ) =>
    changes.commit(db, async (tx, changed) =>
      changed.add(
        "audit",
        await appendAudit(tx, crypto, { actor, event, vehicleId, detail }, new Date(clock.now())),
      ),
    );
  const conflict = (error: unknown, what: string): never => {
    if (isUniqueViolation(error)) throw new ApiError("BAD_REQUEST", `${what} already exists`);
    if ((error as { code?: string }).code === "23503")
      throw new ApiError("NOT_FOUND", "unknown user or vehicle");
    throw error;
  };

  app.post<{ Body: NewUserBody }>(
    "/admin/users",
    {
      schema: {
        tags: ["admin"],
        summary: "Register a user",
        security: [{ bearer: [] }],
        body: NewUserBody,
        response: { 201: Created, ...errorReplies },
      },
    },
    async (request, reply) => {
      const principal = await admin(request);
      await db
        .insertInto("users")
        .values({ ...request.body, createdAt: new Date(clock.now()) })
        .execute()
        .catch((e: unknown) => conflict(e, "user"));
      await audited(`admin:${principal.userId}`, "admin.user_created", null, {
        userId: request.body.id,
        role: request.body.role,
      });
      return reply.status(201).send({ created: true });
    },
  );

  app.post<{ Body: NewVehicleBody }>(
    "/admin/vehicles",
    {
      schema: {
        tags: ["admin"],
        summary: "Register a vehicle; returns its MQTT credential once (embedded broker)",
        security: [{ bearer: [] }],
        body: NewVehicleBody,
        response: { 201: VehicleCredentialReply, ...errorReplies },
      },
    },
    async (request, reply) => {
      const principal = await admin(request);
      const identityPublicKey = new Uint8Array(Buffer.from(request.body.identityPublicKey, "base64"));
      try {
        decodePoint(identityPublicKey, "identityPublicKey");
      } catch (cause) {
        throw new ApiError("BAD_REQUEST", "identityPublicKey is not a valid P-256 point", { cause });
      }
      const { id, vin, model, policyFlags } = request.body;
      await db
        .insertInto("vehicles")
        .values({
          id,
          vin,
          model,
          identityPublicKey,
          policyFlags,
          mqttSecretHash: null,
          createdAt: new Date(clock.now()),
        })
        .execute()
        .catch((e: unknown) => conflict(e, "vehicle"));
      const password = await issueVehicleCredential(db, crypto, id);
      await audited(`admin:${principal.userId}`, "admin.vehicle_registered", id, { vin });
      return reply.status(201).send({
        vehicleId: id,
        mqttUrl: services.mqttUrl,
        username: id,
        clientId: `vehicle-${id}`,
        password,
      });
    },
  );

  app.post<{ Params: { vehicleId: string }; Body: OwnershipBody }>(
    "/admin/vehicles/:vehicleId/owners",
    {
      schema: {
        tags: ["admin"],
        summary: "Record an owner of the vehicle with their owner PIN (stored as a scrypt hash)",
        security: [{ bearer: [] }],
        params: Type.Object({ vehicleId: VehicleId }),
        body: OwnershipBody,
        response: { 201: Created, ...errorReplies },
      },
    },
    async (request, reply) => {
      const principal = await admin(request);
      const { vehicleId } = request.params;
      const pinHash = await services.derivation.run(() =>
        hashLowEntropySecret(crypto, request.body.pin, services.config.pairing.scrypt),
      );
      await db
        .insertInto("ownerships")
        .values({
          userId: request.body.userId,
          vehicleId,
          pinHash,
          pinLockedUntil: null,
          since: new Date(clock.now()),
        })
        .execute()
        .catch((e: unknown) => conflict(e, "ownership"));
      await audited(`admin:${principal.userId}`, "admin.owner_added", vehicleId, {
        userId: request.body.userId,
      });
      return reply.status(201).send({ created: true });
    },
  );

  app.put<{ Params: { vehicleId: string }; Body: SubscriptionBody }>(
    "/admin/vehicles/:vehicleId/subscription",
    {
      schema: {
        tags: ["admin"],
        summary: "Set a user's digital key subscription for the vehicle",
        security: [{ bearer: [] }],
        params: Type.Object({ vehicleId: VehicleId }),
        body: SubscriptionBody,
        response: { 200: Type.Object({ updated: Type.Literal(true) }), ...errorReplies },
      },
    },
    async (request) => {
      const principal = await admin(request);
      const { vehicleId } = request.params;
      const validUntil = new Date(request.body.validUntil);
      await db
        .insertInto("subscriptions")
        .values({ userId: request.body.userId, vehicleId, product: "digital_key", validUntil })
        .onConflict((c) => c.columns(["userId", "vehicleId", "product"]).doUpdateSet({ validUntil }))
        .execute()
        .catch((e: unknown) => conflict(e, "subscription"));
      await audited(`admin:${principal.userId}`, "admin.subscription_set", vehicleId, {
        userId: request.body.userId,
        validUntil: validUntil.toISOString(),
      });
      return { updated: true as const };
    },
  );
}
