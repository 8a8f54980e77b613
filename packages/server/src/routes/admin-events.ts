import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { authenticateAdmin } from "../auth/authenticator.ts";
import { EventStreams } from "../http/event-streams.ts";
import { errorReplies } from "../http/schemas.ts";
import type { Services } from "../services.ts";

const PING_INTERVAL_MS = 15_000;
const MAX_BUFFERED_BYTES = 1 << 20;

/**
 * `GET /admin/events`: one `change` event per committed change, for the admin console. The token
 * comes in the Authorization header (the console reads the stream with fetch, never EventSource,
 * so that no token ever lands in a URL or an access log).
 */
export async function adminEventsRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const streams = new EventStreams({
    clock: services.clock,
    max: services.config.eventStreamsMax,
    pingIntervalMs: PING_INTERVAL_MS,
    maxBufferedBytes: MAX_BUFFERED_BYTES,
  });
  // preClose runs before the HTTP server stops accepting: open streams must end or close() waits on them.
  app.addHook("preClose", async () => streams.closeAll());

  app.get(
    "/admin/events",
    {
      // A HEAD request would open a stream that nobody reads and nothing ends.
      exposeHeadRoute: false,
      schema: {
        tags: ["admin"],
        summary: "Server-sent events: `event: change` with {kind, id} after each commit; `: ping` every 15 s",
        security: [{ bearer: [] }],
        produces: ["text/event-stream"],
        response: {
          200: Type.String({
            description:
              'text/event-stream; each event: `event: change` and `data: {"kind":"session"|"transaction"|"key"|"attestation"|"audit","id":"…"}`',
          }),
          ...errorReplies,
        },
      },
    },
    async (request, reply) => {
      await authenticateAdmin(services.authenticate, request.headers.authorization);
      const stream = streams.open();
      stream.onClose(services.changes.subscribe((change) => stream.send("change", change)));
      return (
        reply
          .header("content-type", "text/event-stream; charset=utf-8")
          .header("cache-control", "no-store")
          .header("x-accel-buffering", "no")
          // The connection ends with the stream: a kept-alive socket would hold up server.close().
          .header("connection", "close")
          .send(stream.body)
      );
    },
  );
}
