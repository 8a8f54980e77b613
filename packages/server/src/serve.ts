import type { FastifyInstance } from "fastify";
import { type BuildOptions, buildServer } from "./app.ts";
import type { ServerConfig } from "./config.ts";

export interface RunningServer {
  readonly app: FastifyInstance;
  /** `http://host:port` the server listens on. */
  readonly url: string;
  /** The broker URL vehicles connect to. */
  readonly mqttUrl: string;
  close(): Promise<void>;
}

/** Builds the server and listens on the configured host and port (`pairkit serve` calls this). */
export async function serve(config: ServerConfig, options?: BuildOptions): Promise<RunningServer> {
  const app = await buildServer(config, options);
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return { app, url: `http://${host}:${port}`, mqttUrl: app.services.mqttUrl, close: () => app.close() };
}
