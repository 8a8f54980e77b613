import type { Link } from "../ports/link.ts";
import { vehicleAdvertisementHash } from "./binding.ts";
import { OwnerPhase } from "./constants.ts";
import { toOwnerProtocolError } from "./errors.ts";
import { type OwnerPairingOptions, type OwnerPairingResult, runOwnerPairing } from "./owner-pairing.ts";

/**
 * How the SDK reaches a vehicle: scan for the owner pairing service (0xCCC1) with manufacturer
 * data carrying `vehicleHint`, connect, and return a framed `Link`. @pairkit/ble implements it
 * over a `Central` (simulated radio, WebSocket radio, noble, Web Bluetooth); core stays free of BLE.
 */
export interface VehicleConnector {
  connect(request: {
    readonly vehicleHint: Uint8Array;
    readonly timeoutMs: number;
    readonly signal?: AbortSignal;
  }): Promise<Link>;
}

export const DEFAULT_SCAN_TIMEOUT_MS = 15_000;

/**
 * The one entry point an app calls: finds the vehicle named in the bootstrap among all that
 * advertise, connects, and runs owner pairing over the link.
 */
export async function pairOwnerVehicle(
  options: Omit<OwnerPairingOptions, "link"> & {
    readonly connector: VehicleConnector;
    readonly scanTimeoutMs?: number;
  },
): Promise<OwnerPairingResult> {
  const vehicleHint = vehicleAdvertisementHash(options.crypto, options.bootstrap.vehicleId);
  options.onProgress?.({ phase: "connect" });
  let link: Link;
  try {
    link = await options.connector.connect({
      vehicleHint,
      timeoutMs: options.scanTimeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    const failure = toOwnerProtocolError(error, OwnerPhase.SPAKE2);
    return {
      ok: false,
      error: {
        phase: "connect",
        code: failure.code,
        message: failure.message,
        retryAllowed: failure.retryAllowed,
        remainingAttempts: undefined,
        fromVehicle: false,
        cause: error,
      },
    };
  }
  return runOwnerPairing({ ...options, link });
}
