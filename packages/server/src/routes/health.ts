import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { pingDatabase } from "../db/database.ts";
import { ApiError } from "../errors.ts";
import { errorReplies } from "../http/schemas.ts";
import type { Services } from "../services.ts";

/** Liveness, readiness (database and broker reachable) and Prometheus metrics. */
export async function healthRoutes(app: FastifyInstance, services: Services): Promise<void> {
  app.get(
    "/healthz",
    {
      schema: {
        tags: ["ops"],
        summary: "Liveness",
        response: { 200: Type.Object({ status: Type.Literal("ok") }) },
      },
    },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        tags: ["ops"],
        summary: "Readiness: the database answers and the MQTT link is connected",
        response: {
          200: Type.Object({
            status: Type.Literal("ready"),
            database: Type.Literal("ok"),
            mqtt: Type.Literal("ok"),
          }),
          ...errorReplies,
        },
      },
    },
    async () => {
      try {
        await pingDatabase(services.db);
      } catch (cause) {
        throw new ApiError("NOT_READY", "database unreachable", { cause, retryAfter: 5 });
      }
      if (!services.link.connected)
        throw new ApiError("NOT_READY", "MQTT broker unreachable", { retryAfter: 5 });
      return { status: "ready" as const, database: "ok" as const, mqtt: "ok" as const };
    },
  );

  app.get(
    "/metrics",
    { schema: { tags: ["ops"], summary: "Prometheus metrics", produces: ["text/plain"] } },
    async (_request, reply) => {
      const body = await services.metrics.registry.metrics();
      return reply.type(services.metrics.registry.contentType).send(body);
    },
  );
}
