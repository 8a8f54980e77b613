import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";

/**
 * Closes, when the server closes, the connections a client opened and never sent a request on.
 * Browsers and fetch pools open such spare connections; Node's closeIdleConnections() leaves them
 * alone, so server.close() would wait until the client drops them (seconds to minutes).
 */
export function closeUnusedConnectionsOnClose(app: FastifyInstance): void {
  const unused = new Set<Socket>();
  app.server.on("connection", (socket: Socket) => {
    unused.add(socket);
    socket.once("close", () => unused.delete(socket));
  });
  app.server.on("request", (request: { socket: Socket }) => unused.delete(request.socket));
  app.addHook("preClose", async () => {
    for (const socket of unused) socket.destroy();
  });
}
