import { constantTimeEqual, utf8 } from "@pairkit/core";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { bearerToken } from "../auth/authenticator.ts";
import { pingDatabase } from "../db/database.ts";
import { ApiError } from "../errors.ts";
import { errorReplies } from "../http/schemas.ts";
import type { Services } from "../services.ts";

/**
 * Liveness, readiness (database, broker and the identity provider's keys reachable) and Prometheus
 * metrics (open, behind METRICS_TOKEN, or not served: docs/operations.md).
 */
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
        summary:
          "Readiness: the database answers, the MQTT link is connected and the identity provider's keys can be had",
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
      try {
        await services.identityKeys.available();
      } catch (cause) {
        // Without the keys no user token verifies: every authenticated route would answer 401.
        throw new ApiError("NOT_READY", "identity provider keys (JWKS) unavailable", {
          cause,
          retryAfter: 5,
        });
      }
      return { status: "ready" as const, database: "ok" as const, mqtt: "ok" as const };
    },
  );

  const metrics = services.config.http.metrics;
  if (metrics.access === "off") return;
  // Digests compared, so neither the content nor the length of the token shows in the timing.
  const digest = (text: string) => services.crypto.sha256(utf8(text));
  const expected = metrics.access === "token" ? digest(metrics.token) : undefined;
  app.get(
    "/metrics",
    {
      schema: {
        tags: ["ops"],
        summary: "Prometheus metrics",
        produces: ["text/plain"],
        ...(expected ? { security: [{ bearer: [] }] } : {}),
      },
    },
    async (request, reply) => {
      if (expected) {
        const given = digest(bearerToken(request.headers.authorization) ?? "");
        if (!constantTimeEqual(given, expected))
          throw new ApiError("UNAUTHENTICATED", "the metrics token is required");
      }
      const body = await services.metrics.registry.metrics();
      return reply.type(services.metrics.registry.contentType).send(body);
    },
  );
}
