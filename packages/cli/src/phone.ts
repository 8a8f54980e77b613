import { type Central, centralVehicleConnector } from "@pairkit/ble";
import {
  type Crypto,
  HttpPairingApi,
  MemoryKeychain,
  MemoryPairingLog,
  type OwnerPairingResult,
  pairOwnerVehicle,
  runStandardTransaction,
  type SecureElement,
  type StandardTransactionResult,
  vehicleAdvertisementHash,
} from "@pairkit/core";
import type { PasswordGrant, ServerClient } from "./server-client.ts";

export interface CliPhoneOptions {
  readonly crypto: Crypto;
  /** The phone's radio: a WebSocket radio central, possibly tapped by a frame trace recorder. */
  readonly central: Central;
  readonly server: ServerClient;
  /** The user's bearer token; handed to the SDK, never printed. */
  readonly token: string;
  readonly trustAnchors: readonly Uint8Array[];
  readonly ktsPublicKey: Uint8Array;
  readonly secureElement: SecureElement;
  /** SPAKE2+ idProver: stable per installation. */
  readonly deviceId: Uint8Array;
  readonly scanTimeoutMs?: number;
}

const DEFAULT_SCAN_TIMEOUT_MS = 10_000;

/**
 * The phone side as the CLI runs it (`pairkit pair`, `pairkit demo`): the SDK's owner pairing
 * against the real server's HTTP API, and the standard transaction, over a BLE central.
 */
export class CliPhone {
  readonly #o: CliPhoneOptions;

  constructor(options: CliPhoneOptions) {
    this.#o = options;
  }

  /** Owner pairing with a password grant; `typedPassword` replaces the granted one (a typo). */
  pair(vehicleId: string, grant: PasswordGrant, typedPassword?: string): Promise<OwnerPairingResult> {
    const o = this.#o;
    return pairOwnerVehicle({
      crypto: o.crypto,
      bootstrap: {
        sessionId: grant.sessionId,
        password: typedPassword ?? grant.pairingPassword,
        scrypt: grant.scrypt,
        vehicleId,
      },
      deviceId: o.deviceId,
      trustAnchors: o.trustAnchors,
      secureElement: o.secureElement,
      keychain: new MemoryKeychain(),
      log: new MemoryPairingLog(),
      api: new HttpPairingApi({ baseUrl: o.server.baseUrl, token: () => o.token }),
      ktsPublicKey: o.ktsPublicKey,
      connector: centralVehicleConnector(o.central, { crypto: o.crypto }),
      scanTimeoutMs: o.scanTimeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS,
    });
  }

  /** The standard transaction with a paired key: finds the vehicle, connects, asks it to open. */
  unlock(vehicleId: string, keyId: Uint8Array): Promise<StandardTransactionResult> {
    return unlockVehicle({ ...this.#o, vehicleId, keyId });
  }
}

/** The standard transaction with a key the secure element holds (`pairkit pair --unlock`, `pairkit unlock`). */
export async function unlockVehicle(
  o: Pick<CliPhoneOptions, "crypto" | "central" | "secureElement" | "trustAnchors" | "scanTimeoutMs"> & {
    readonly vehicleId: string;
    readonly keyId: Uint8Array;
  },
): Promise<StandardTransactionResult> {
  const link = await centralVehicleConnector(o.central, { crypto: o.crypto }).connect({
    vehicleHint: vehicleAdvertisementHash(o.crypto, o.vehicleId),
    timeoutMs: o.scanTimeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS,
  });
  try {
    return await runStandardTransaction({
      link,
      crypto: o.crypto,
      secureElement: o.secureElement,
      keyId: o.keyId,
      trustAnchors: o.trustAnchors,
    });
  } finally {
    await link.close();
  }
}
