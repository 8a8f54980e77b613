import type { FastifyInstance } from "fastify";
import { bearerToken } from "../auth/authenticator.ts";
import { ApiError } from "../errors.ts";
import {
  AcceptedReply,
  errorReplies,
  HotlineLinkBody,
  PasswordReply,
  PortalLinkBody,
  RedeemBody,
} from "../http/schemas.ts";
import { redeemPasswordLink, requestPasswordLink } from "../portal/password-link.ts";
import type { Services } from "../services.ts";
import { deepLink } from "./pairing.ts";

/** Seed 000's second path: customer portal and hotline, password delivered through an e-mailed one-time link. */
export async function portalRoutes(app: FastifyInstance, services: Services): Promise<void> {
  app.post<{ Body: PortalLinkBody }>(
    "/portal/password-link",
    {
      schema: {
        tags: ["portal"],
        summary: "Owner verification (VIN, e-mail, owner PIN) → e-mail with a one-time pairing link",
        body: PortalLinkBody,
        response: { 202: AcceptedReply, ...errorReplies },
      },
    },
    async (request, reply) => {
      const { vin, email, pin, replaceExisting } = request.body;
      await requestPasswordLink(services, {
        vin,
        email,
        pin,
        replaceExisting: replaceExisting ?? false,
        agentUserId: undefined,
        requester: `ip:${request.ip}`,
      });
      return reply.status(202).send({ accepted: true });
    },
  );

  app.post<{ Body: HotlineLinkBody }>(
    "/hotline/password-link",
    {
      schema: {
        tags: ["portal"],
        summary:
          "Hotline agent relays the owner's PIN (and e-mail, required when the vehicle has several owners) → the same e-mail to that owner",
        security: [{ bearer: [] }],
        body: HotlineLinkBody,
        response: { 202: AcceptedReply, ...errorReplies },
      },
    },
    async (request, reply) => {
      const principal = await services.authenticate(bearerToken(request.headers.authorization));
      if (principal.role !== "agent") throw new ApiError("FORBIDDEN", "hotline agents only");
      const { vin, email, pin, replaceExisting } = request.body;
      await requestPasswordLink(services, {
        vin,
        email,
        pin,
        replaceExisting: replaceExisting ?? false,
        agentUserId: principal.userId,
        requester: `agent:${principal.userId}`,
      });
      return reply.status(202).send({ accepted: true });
    },
  );

  app.post<{ Body: RedeemBody }>(
    "/portal/redeem",
    {
      schema: {
        tags: ["portal"],
        summary: "Redeem a one-time link (once) for the pairing password",
        body: RedeemBody,
        response: { 200: PasswordReply, ...errorReplies },
      },
    },
    async (request) => {
      const issued = await redeemPasswordLink(services, request.body.token);
      return {
        sessionId: issued.sessionId,
        pairingPassword: issued.pairingPassword,
        expiresAt: issued.expiresAt.toISOString(),
        maxAttempts: issued.maxAttempts,
        scrypt: issued.scrypt,
        deepLink: deepLink(issued.vehicleId, issued.sessionId, issued.pairingPassword),
      };
    },
  );
}
