import { centralVehicleConnector } from "@pairkit/ble";
import {
  decodeBase64,
  HttpPairingApi,
  MemoryKeychain,
  MemoryPairingLog,
  nobleCrypto,
  type OwnerPairingBootstrap,
  type OwnerPairingProgress,
  type OwnerPairingResult,
  type PairedKey,
  pairOwnerVehicle,
  runStandardTransaction,
  type ScryptParams,
  SoftwareSecureElement,
  type StandardTransactionResult,
  vehicleAdvertisementHash,
} from "@pairkit/core";
import { call } from "./api.ts";
import type { Radios, Transport } from "./radio.ts";

/** `POST /pairing/password/request` and `POST /portal/redeem` answer with this. */
export interface PasswordReply {
  readonly sessionId: string;
  readonly pairingPassword: string;
  readonly expiresAt: string;
  readonly maxAttempts: number;
  readonly scrypt: ScryptParams;
  /** `pairkit://owner-pairing?vehicleId=…&sessionId=…&password=…`: the hand-off to the pairing screen. */
  readonly deepLink: string;
}

export interface PendingPairing extends OwnerPairingBootstrap {
  readonly expiresAt: string;
  readonly maxAttempts: number;
}

/** The pairing screen's input, as a native app would take it from the deep link. */
export function pendingPairingFrom(reply: PasswordReply): PendingPairing {
  const link = new URL(reply.deepLink);
  const vehicleId = link.searchParams.get("vehicleId");
  if (link.protocol !== "pairkit:" || !vehicleId) throw new Error("the server's deep link names no vehicle");
  return {
    sessionId: reply.sessionId,
    password: reply.pairingPassword,
    scrypt: reply.scrypt,
    vehicleId,
    expiresAt: reply.expiresAt,
    maxAttempts: reply.maxAttempts,
  };
}

/** How long the phone looks for a vehicle (or waits for the Web Bluetooth chooser). */
const SCAN_TIMEOUT_MS = 20_000;

/**
 * The emulated phone: the real SDK of @pairkit/core with a software secure element, all in this
 * tab's memory (a reload is a new phone). The carmaker roots it trusts and the KTS key come from
 * the development server, as a carmaker's app would ship them.
 */
export class PhoneDevice {
  readonly crypto = nobleCrypto;
  readonly secureElement = SoftwareSecureElement.inMemory(nobleCrypto);
  readonly #keychain = new MemoryKeychain();
  readonly #log = new MemoryPairingLog();
  readonly #deviceId = nobleCrypto.randomBytes(16);
  readonly #keys = new Map<string, PairedKey>();
  #trust: Promise<{ anchors: Uint8Array[]; ktsPublicKey: Uint8Array }> | undefined;

  constructor(private readonly radios: Radios) {}

  key(vehicleId: string): PairedKey | undefined {
    return this.#keys.get(vehicleId);
  }

  async pair(options: {
    readonly bootstrap: OwnerPairingBootstrap;
    readonly token: string;
    readonly transport: Transport;
    readonly onProgress: (event: OwnerPairingProgress) => void;
  }): Promise<OwnerPairingResult> {
    const central = await this.radios.central(options.transport);
    const trust = await this.#trustMaterial();
    const result = await pairOwnerVehicle({
      connector: centralVehicleConnector(central, { crypto: this.crypto }),
      scanTimeoutMs: SCAN_TIMEOUT_MS,
      crypto: this.crypto,
      bootstrap: options.bootstrap,
      deviceId: this.#deviceId,
      trustAnchors: trust.anchors,
      ktsPublicKey: trust.ktsPublicKey,
      secureElement: this.secureElement,
      keychain: this.#keychain,
      log: this.#log,
      api: new HttpPairingApi({ baseUrl: location.origin, token: () => options.token }),
      onProgress: options.onProgress,
    });
    if (result.ok) this.#keys.set(result.key.vehicleId, result.key);
    else this.radios.reset(result.error.cause);
    return result;
  }

  /** The standard transaction with the key paired to `vehicleId`. */
  async unlock(vehicleId: string, transport: Transport): Promise<StandardTransactionResult> {
    const key = this.#keys.get(vehicleId);
    if (!key) throw new Error(`no key for ${vehicleId} on this phone`);
    const central = await this.radios.central(transport);
    const trust = await this.#trustMaterial();
    const link = await centralVehicleConnector(central, { crypto: this.crypto })
      .connect({ vehicleHint: vehicleAdvertisementHash(this.crypto, vehicleId), timeoutMs: SCAN_TIMEOUT_MS })
      .catch((error: unknown) => {
        this.radios.reset(error);
        throw error;
      });
    try {
      return await runStandardTransaction({
        link,
        crypto: this.crypto,
        secureElement: this.secureElement,
        keyId: key.keyId,
        trustAnchors: trust.anchors,
      });
    } finally {
      await link.close();
    }
  }

  #trustMaterial(): Promise<{ anchors: Uint8Array[]; ktsPublicKey: Uint8Array }> {
    this.#trust ??= Promise.all([
      call<{ certificates: string[] }>("GET", "/dev/trust-anchors"),
      call<{ publicKey: string }>("GET", "/kts/public-key"),
    ]).then(([anchors, kts]) => ({
      anchors: anchors.certificates.map((c, i) => decodeBase64(c, `trust anchor ${i}`)),
      ktsPublicKey: decodeBase64(kts.publicKey, "KTS public key"),
    }));
    this.#trust.catch(() => {
      this.#trust = undefined;
    });
    return this.#trust;
  }
}
