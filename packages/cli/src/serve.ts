import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { QR_REFRESH_SECONDS } from "@pairkit/core";
import { DEMO } from "@pairkit/server";
import { untilSignal } from "./long-running.ts";
import { DEMO_CARD, type Simulators, startStack } from "./stack.ts";

export interface ServeOptions {
  readonly port?: number;
  readonly radioPort?: number;
  readonly stateDir?: string;
}

/** MQTT's registered port 1883 is often taken by a system broker; the embedded one defaults beside it. */
const EMBEDDED_MQTT_PORT = "18830";
const DEFAULT_RADIO_PORT = 8081;
const DEFAULT_STATE_DIR = ".pairkit";

/**
 * `pairkit serve`: the backend (HTTP API, embedded PGlite under ./.pairkit, embedded MQTT broker,
 * development SMTP sink), the WebSocket radio, the simulated fleet and one simulated Active Card,
 * until SIGINT/SIGTERM. Every part can be pointed elsewhere through the environment
 * (docs/operations.md); the fleet's and the card's state stay in the state directory.
 */
export async function runServe(
  env: NodeJS.ProcessEnv,
  options: ServeOptions,
  out: NodeJS.WritableStream,
): Promise<void> {
  const stateDir = options.stateDir ?? env.PAIRKIT_STATE_DIR ?? DEFAULT_STATE_DIR;
  const stack = await startStack({
    env: {
      MQTT_PORT: EMBEDDED_MQTT_PORT,
      ...env,
      ...(options.port === undefined ? {} : { PORT: String(options.port) }),
    },
    stateDir,
    radioPort: options.radioPort ?? DEFAULT_RADIO_PORT,
    console: true,
  });
  // Whatever fails from here on, the running parts stop, or they would keep the process alive.
  try {
    const { config, server, radio, simulators } = stack;
    const owners = new Map<string, string>(Object.values(DEMO.vehicles).map((v) => [v.id, v.owner]));
    const users = Object.values(DEMO.users)
      .map((u) => `${u.id} (${u.role})`)
      .join(", ");
    out.write(
      [
        "pairkit is running:",
        ...(simulators
          ? [`  web console     ${server.url}/   (portal, phone emulator, Active Card, admin)`]
          : []),
        `  HTTP API        ${server.url}   (OpenAPI ${server.url}/openapi.json, docs ${server.url}/docs)`,
        `  MQTT broker     ${server.mqttUrl}   (vehicles connect here with their own credentials)`,
        `  WebSocket radio ${radio.url}   (simulated BLE air for vehicles, cards and phones)`,
        ...(simulators ? await describeSimulators(simulators, stateDir, owners) : []),
        `  mode            ${config.mode}; state in ${stateDir}`,
        simulators
          ? [
              `  demo users      ${users}; owner PIN ${DEMO.pin}`,
              `  a token         curl -s -X POST ${server.url}/dev/token -H 'content-type: application/json' -d '{"userId":"alice"}'`,
              `  pair a phone    npx pairkit pair --server ${server.url} --radio ${radio.url} --user alice --vehicle VH-DEMO-1 --trust-anchor ${join(stateDir, ROOT_FILE)} --unlock`,
            ].join("\n")
          : "",
        "Ctrl-C stops everything; data stays for the next start.",
        "",
      ]
        .filter((line) => line !== "")
        .join("\n") + "\n",
    );
    await untilSignal();
    out.write("stopping…\n");
  } finally {
    await stack.close();
  }
}

const ROOT_FILE = "carmaker-root.der";

/** Writes the carmaker root where a user can pick it up, and says where that and the card's QR code are. */
async function describeSimulators(
  { fleet, card, cardQrPath }: Simulators,
  stateDir: string,
  owners: ReadonlyMap<string, string>,
): Promise<string[]> {
  const rootPath = join(stateDir, ROOT_FILE);
  await writeFile(rootPath, fleet.trustAnchors[0]!);
  const vehicles = fleet.vehicles.map((v) => `${v.vehicleId} (${v.model}, ${owners.get(v.vehicleId)})`);
  return [
    `  vehicles        ${vehicles.join(", ")}: on MQTT and the radio`,
    `  Active Card     ${DEMO_CARD.deviceName} (${card.deviceId}, owner ${DEMO_CARD.ownerUser}) on the radio; QR code ${cardQrPath} (refreshed every ${QR_REFRESH_SECONDS} s)`,
    `  carmaker root   ${rootPath}   (pairkit pair --trust-anchor)`,
  ];
}
