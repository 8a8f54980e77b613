import type { FastifyInstance } from "fastify";
import { bearerToken } from "../auth/authenticator.ts";
import { errorReplies, KeyAttestationReply, KtsPublicKeyReply, KtsRegisterBody } from "../http/schemas.ts";
import { registerEndpoint } from "../kts/registration.ts";
import type { Services } from "../services.ts";

/** Key tracking: endpoint registration with a signed attestation, and the public key vehicles verify with. */
export async function ktsRoutes(app: FastifyInstance, services: Services): Promise<void> {
  app.post<{ Body: KtsRegisterBody; Reply: KeyAttestationReply }>(
    "/kts/attestations",
    {
      schema: {
        tags: ["kts"],
        summary:
          "Register the endpoint public key of a configured pairing; returns the signed key attestation",
        security: [{ bearer: [] }],
        body: KtsRegisterBody,
        response: { 200: KeyAttestationReply, ...errorReplies },
      },
    },
    async (request) => {
      const principal = await services.authenticate(bearerToken(request.headers.authorization));
      const issued = await registerEndpoint(
        services,
        principal.userId,
        request.body.transactionId,
        new Uint8Array(Buffer.from(request.body.endpointPublicKey, "base64")),
      );
      return {
        keyId: issued.keyId,
        vehicleId: issued.vehicleId,
        endpointPublicKeyHash: Buffer.from(issued.endpointPublicKeyHash).toString("hex"),
        issuedAt: issued.issuedAt.toISOString(),
        signature: Buffer.from(issued.signature).toString("base64"),
      };
    },
  );

  app.get(
    "/kts/public-key",
    {
      schema: {
        tags: ["kts"],
        summary: "The KTS attestation key, for vehicles",
        response: { 200: KtsPublicKeyReply },
      },
    },
    async () => ({
      algorithm: "ECDSA-P256-SHA256" as const,
      publicKey: Buffer.from(services.kts.publicKey).toString("base64"),
    }),
  );
}
