import type { FastifyInstance } from "fastify";
import { bearerToken } from "../auth/authenticator.ts";
import { errorReplies, KeyIdParams, KeysReply, RevokeReply } from "../http/schemas.ts";
import { requestKeyRevocation } from "../keys/revocation.ts";
import type { Services } from "../services.ts";

/** The owner's digital keys: list, revoke. */
export async function keysRoutes(app: FastifyInstance, services: Services): Promise<void> {
  app.get(
    "/keys",
    {
      schema: {
        tags: ["keys"],
        summary: "List my digital keys",
        security: [{ bearer: [] }],
        response: { 200: KeysReply, ...errorReplies },
      },
    },
    async (request) => {
      const principal = await services.authenticate(bearerToken(request.headers.authorization));
      const keys = await services.db
        .selectFrom("digitalKeys")
        .select(["keyId", "vehicleId", "role", "state", "attested", "createdAt", "revokedAt"])
        .where("ownerUserId", "=", principal.userId)
        .orderBy("createdAt", "desc")
        .execute();
      return {
        keys: keys.map((k) => ({
          ...k,
          createdAt: k.createdAt.toISOString(),
          revokedAt: k.revokedAt?.toISOString() ?? null,
        })),
      };
    },
  );

  app.post<{ Params: { keyId: string } }>(
    "/keys/:keyId/revoke",
    {
      schema: {
        tags: ["keys"],
        summary: "Revoke one of my keys; it is revoked once the vehicle confirms",
        security: [{ bearer: [] }],
        params: KeyIdParams,
        response: { 202: RevokeReply, ...errorReplies },
      },
    },
    async (request, reply) => {
      const principal = await services.authenticate(bearerToken(request.headers.authorization));
      await requestKeyRevocation(services, {
        keyId: request.params.keyId,
        ownerUserId: principal.userId,
        actor: `user:${principal.userId}`,
      });
      return reply.status(202).send({ keyId: request.params.keyId, state: "revoking" });
    },
  );
}
