import type { FastifyInstance } from "fastify";
import { bearerToken } from "../auth/authenticator.ts";
import { ApiError } from "../errors.ts";
import { errorReplies, PasswordReply, PasswordRequestBody } from "../http/schemas.ts";
import { requestPairingPassword } from "../pairing/password-request.ts";
import type { Services } from "../services.ts";

/** The seed 001 §4 contract: the phone app's four calls. */
export async function pairingRoutes(app: FastifyInstance, services: Services): Promise<void> {
  app.post<{ Body: PasswordRequestBody; Reply: PasswordReply }>(
    "/pairing/password/request",
    {
      schema: {
        tags: ["pairing"],
        summary: "Issue a one-time pairing password and provision its verifier to the vehicle",
        security: [{ bearer: [] }],
        body: PasswordRequestBody,
        response: { 200: PasswordReply, ...errorReplies },
      },
    },
    async (request) => {
      const header = bearerToken(request.headers.authorization);
      const { userToken } = request.body;
      if (header !== undefined && userToken !== undefined && header !== userToken) {
        throw new ApiError("BAD_REQUEST", "userToken and the Authorization header name different tokens");
      }
      const principal = await services.authenticate(userToken ?? header);
      const issued = await requestPairingPassword(services, {
        userId: principal.userId,
        vehicleId: request.body.vehicleId,
        deviceInfo: request.body.deviceInfo,
        replaceExisting: request.body.replaceExisting ?? false,
        channel: "app",
        actor: `user:${principal.userId}`,
      });
      services.metrics.passwordRequests.inc({ outcome: "issued" });
      return {
        sessionId: issued.sessionId,
        pairingPassword: issued.pairingPassword,
        expiresAt: issued.expiresAt.toISOString(),
        maxAttempts: issued.maxAttempts,
        scrypt: issued.scrypt,
        deepLink: deepLink(request.body.vehicleId, issued.sessionId, issued.pairingPassword),
      };
    },
  );
}

/**
 * Seed 000 steps 5–9: the link that opens the native pairing screen with the password. It only ever
 * travels in this HTTPS reply (and the log redacts it).
 */
export function deepLink(vehicleId: string, sessionId: string, password: string): string {
  const query = new URLSearchParams({ vehicleId, sessionId, password });
  return `pairkit://owner-pairing?${query.toString()}`;
}
