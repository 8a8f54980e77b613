import { startRadioServer } from "@pairkit/ble/node";
import { DEMO, loadConfig, serve } from "@pairkit/server";

export interface ServeOptions {
  readonly port?: number;
  readonly radioPort?: number;
}

/** MQTT's registered port 1883 is often taken by a system broker; the embedded one defaults beside it. */
const EMBEDDED_MQTT_PORT = "18830";
const DEFAULT_RADIO_PORT = 8081;

/**
 * `pairkit serve`: the backend (HTTP API, embedded PGlite under ./.pairkit, embedded MQTT broker,
 * development SMTP sink) and the WebSocket radio, until SIGINT/SIGTERM. Every part can be
 * pointed elsewhere through the environment (docs/operations.md).
 */
export async function runServe(
  env: NodeJS.ProcessEnv,
  options: ServeOptions,
  out: NodeJS.WritableStream,
): Promise<void> {
  const config = loadConfig({
    MQTT_PORT: EMBEDDED_MQTT_PORT,
    ...env,
    ...(options.port === undefined ? {} : { PORT: String(options.port) }),
  });
  const server = await serve(config);
  let radio: Awaited<ReturnType<typeof startRadioServer>>;
  try {
    radio = await startRadioServer({ host: config.host, port: options.radioPort ?? DEFAULT_RADIO_PORT });
  } catch (error) {
    await server.close();
    throw error;
  }
  const users = Object.values(DEMO.users)
    .map((u) => `${u.id} (${u.role})`)
    .join(", ");
  out.write(
    [
      "pairkit is running:",
      `  HTTP API        ${server.url}   (OpenAPI ${server.url}/openapi.json, docs ${server.url}/docs)`,
      `  MQTT broker     ${server.mqttUrl}   (vehicles connect here with their own credentials)`,
      `  WebSocket radio ${radio.url}   (simulated BLE air for vehicles, cards and phones)`,
      `  mode            ${config.mode}`,
      config.mode === "development"
        ? [
            `  demo users      ${users}; owner PIN ${DEMO.pin}`,
            `  a token         curl -s -X POST ${server.url}/dev/token -H 'content-type: application/json' -d '{"userId":"alice"}'`,
          ].join("\n")
        : "",
      "Ctrl-C stops everything; data stays in the database for the next start.",
      "",
    ]
      .filter((line) => line !== "")
      .join("\n") + "\n",
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  out.write("stopping…\n");
  await radio.close();
  await server.close();
}
