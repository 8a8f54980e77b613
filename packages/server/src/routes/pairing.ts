import type { FastifyInstance } from "fastify";
import { bearerToken } from "../auth/authenticator.ts";
import { ApiError } from "../errors.ts";
import {
  AckReply,
  ConfigConfirmBody,
  ConfigConfirmReply,
  errorReplies,
  KtsResponseBody,
  PasswordReply,
  PasswordRequestBody,
  SessionStartBody,
  SessionStartReply,
} from "../http/schemas.ts";
import { recordKtsResponse } from "../kts/registration.ts";
import { requestPairingPassword } from "../pairing/password-request.ts";
import { confirmConfig, startSession } from "../pairing/session-flow.ts";
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
      }).catch((error: unknown) => {
        if (error instanceof ApiError) services.metrics.passwordRequests.inc({ outcome: error.code });
        throw error;
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

  const authenticated = (authorization: string | undefined) =>
    services.authenticate(bearerToken(authorization));
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
  const bytes = (base64: string) => new Uint8Array(Buffer.from(base64, "base64"));

  app.post<{ Body: SessionStartBody; Reply: SessionStartReply }>(
    "/pairing/session/start",
    {
      schema: {
        tags: ["pairing"],
        summary: "Report a SPAKE2+ attempt: opens a transaction and spends one attempt",
        security: [{ bearer: [] }],
        body: SessionStartBody,
        response: { 200: SessionStartReply, ...errorReplies },
      },
    },
    async (request) => {
      const principal = await authenticated(request.headers.authorization);
      const started = await startSession(services, {
        userId: principal.userId,
        sessionId: request.body.sessionId,
        deviceNonce: bytes(request.body.devicePublicInfo.deviceNonce),
        pointX: bytes(request.body.devicePublicInfo.pointX),
      });
      return {
        transactionId: started.transactionId,
        vehiclePublicKey: b64(started.vehiclePublicKey),
        policyFlags: started.policyFlags,
        vehicleNonce: b64(started.vehicleNonce),
        remainingAttempts: started.remainingAttempts,
      };
    },
  );

  app.post<{ Body: ConfigConfirmBody; Reply: ConfigConfirmReply }>(
    "/pairing/config/confirm",
    {
      schema: {
        tags: ["pairing"],
        summary: "Record the configured endpoint: completes the pairing and creates the owner key",
        security: [{ bearer: [] }],
        body: ConfigConfirmBody,
        response: { 200: ConfigConfirmReply, ...errorReplies },
      },
    },
    async (request) => {
      const principal = await authenticated(request.headers.authorization);
      const { keyId } = await confirmConfig(services, {
        userId: principal.userId,
        transactionId: request.body.transactionId,
        configDigest: request.body.configDigest.toLowerCase(),
        endpointIdHash: request.body.endpointIdHash.toLowerCase(),
        seStatus: request.body.seStatus,
      });
      return keyId === undefined
        ? { ack: true }
        : { ack: true, keyId, ktsEndpointUrl: `${services.config.publicUrl}/kts/attestations` };
    },
  );

  app.post<{ Body: KtsResponseBody }>(
    "/pairing/kts/response",
    {
      schema: {
        tags: ["pairing"],
        summary: "Hand back the stored key attestation; the key becomes attested",
        security: [{ bearer: [] }],
        body: KtsResponseBody,
        response: { 200: AckReply, ...errorReplies },
      },
    },
    async (request) => {
      const principal = await authenticated(request.headers.authorization);
      const { signature, issuedAt } = request.body.keyAttestation;
      await recordKtsResponse(
        services,
        principal.userId,
        request.body.transactionId,
        bytes(signature),
        new Date(issuedAt),
      );
      return { ack: true as const };
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
