import { writeFile } from "node:fs/promises";
import { openRadioPeripheral } from "@pairkit/ble";
import { PairkitError, toHex } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { ConfigError } from "@pairkit/server";
import { JsonFileFleetState, startDemoFleet } from "@pairkit/sim/fleet";
import { untilSignal } from "./long-running.ts";
import { ServerClient } from "./server-client.ts";

export interface VehicleOptions {
  readonly id: string;
  /** The model it reports (DEVICE_CONFIG descriptor); demo vehicles have theirs. */
  readonly model?: string;
  readonly server: string;
  readonly radio: string;
  /** Identity, certificate, carmaker CA and paired keys between runs. */
  readonly state: string;
  /** Where to write the carmaker root (DER) for `pairkit pair --trust-anchor`. */
  readonly trustAnchorOut?: string;
}

/**
 * `pairkit vehicle`: one vehicle simulator as its own process — a demo vehicle or any vehicle
 * registered with the server (POST /admin/vehicles) — given MQTT credentials and its identity key
 * in development mode (POST /dev/vehicles/{id}/credentials), on the vehicle link over MQTT, and
 * advertising on a WebSocket radio — until SIGINT/SIGTERM.
 */
export async function runVehicle(options: VehicleOptions, out: NodeJS.WritableStream): Promise<void> {
  // A plain reachability check first, so an unreachable server is exit 3 with the server named.
  await new ServerClient(options.server).ktsPublicKey();
  const fleet = await startDemoFleet({
    serverUrl: options.server,
    peripheral: (vehicleId) => openRadioPeripheral(options.radio, { nodeId: vehicleId }),
    state: new JsonFileFleetState(options.state),
    crypto: nodeCrypto,
    vehicleIds: [options.id],
    ...(options.model === undefined ? {} : { models: { [options.id]: options.model } }),
    onEvent: (vehicleId, event) => out.write(`${vehicleId}: ${event.type}\n`),
  }).catch((error: unknown) => {
    if (error instanceof PairkitError && error.code === "FLEET_UNKNOWN_VEHICLE")
      throw new ConfigError("--id", `${options.id} is not registered with the server (POST /admin/vehicles)`);
    throw error;
  });
  try {
    const root = fleet.trustAnchors[0]!;
    if (options.trustAnchorOut) await writeFile(options.trustAnchorOut, root);
    const [vehicle] = fleet.vehicles;
    out.write(
      [
        `vehicle ${vehicle?.vehicleId} (${vehicle?.model}) registered with ${options.server}, on MQTT`,
        `  advertising on ${options.radio}`,
        `  state in ${options.state}; carmaker root SHA-256 ${toHex(nodeCrypto.sha256(root))}` +
          (options.trustAnchorOut ? ` written to ${options.trustAnchorOut}` : ""),
        "ready",
        "",
      ].join("\n"),
    );
    await untilSignal();
    out.write("stopping…\n");
  } finally {
    await fleet.close();
  }
}
