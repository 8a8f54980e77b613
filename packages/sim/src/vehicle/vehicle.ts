import { DeviceKind, type ManufacturerData, pairkitManufacturerData } from "@pairkit/ble";
import {
  attestationNamesEndpoint,
  type Clock,
  type Crypto,
  Deadline,
  decodeKeyAttestation,
  encodeDescriptor,
  errorFromPeer,
  type KeyAttestation,
  type Link,
  type MailboxLayout,
  OwnerErrorCode,
  OwnerFrameType,
  OwnerMessenger,
  OwnerPhase,
  OwnerProtocolError,
  OwnerTimeouts,
  type P256KeyPair,
  systemClock,
  TimeoutError,
  toOwnerProtocolError,
  vehicleAdvertisementHash,
  verifyKeyAttestation,
  wipe,
} from "@pairkit/core";
import { EndpointStore } from "./endpoint-store.ts";
import { VehiclePairingSession } from "./vehicle-pairing.ts";
import { runVehicleTransaction } from "./vehicle-transaction.ts";
import { type VerifierRecord, VerifierStore } from "./verifier-store.ts";

export interface VehicleIdentity {
  readonly vehicleId: string;
  readonly keyPair: P256KeyPair;
  /** Leaf first, carmaker root excluded. */
  readonly certificateChain: readonly Uint8Array[];
}

export type VehicleEvent =
  | {
      readonly type: "attempt-failed";
      readonly sessionId: string;
      readonly remainingAttempts: number;
      readonly code: string;
    }
  | { readonly type: "locked"; readonly sessionId: string }
  | {
      readonly type: "paired";
      readonly sessionId: string;
      readonly keyId: Uint8Array;
      readonly endpointPublicKey: Uint8Array;
    }
  /** The phone reported a failure before SIG_BITMAP_UPDATE: it erased the key, so did the vehicle. */
  | { readonly type: "discarded"; readonly sessionId: string; readonly keyId: Uint8Array }
  | { readonly type: "attested"; readonly keyId: Uint8Array }
  | { readonly type: "revoked"; readonly keyId: Uint8Array }
  | { readonly type: "unlocked"; readonly keyId: Uint8Array }
  | { readonly type: "denied"; readonly code: string };

/**
 * What the backend drives on a vehicle (over MQTT in @pairkit/server): provision a pairing
 * session's verifier, revoke an endpoint. Outcomes come back through `onEvent`.
 */
export interface VehicleProvisioning {
  provision(record: VerifierRecord): Promise<void>;
  revoke(keyId: Uint8Array): Promise<boolean>;
}

export interface VehicleOptions {
  readonly crypto: Crypto;
  readonly identity: VehicleIdentity;
  readonly descriptor: { readonly model: string; readonly trim?: string; readonly modelYear?: number };
  readonly mailbox: MailboxLayout;
  /** SPAKE2_VERIFY.policyFlags (docs/protocol.md §3.5). */
  readonly policyFlags: number;
  /** The KTS key; without it no attestation can be checked, so none is accepted. */
  readonly ktsPublicKey?: Uint8Array;
  readonly clock?: Clock;
  readonly onEvent?: (event: VehicleEvent) => void;
  /** How long to wait for SIG_BITMAP_UPDATE after OP_CONTROL_FLOW (the phone is calling the KTS). */
  readonly attestationWaitMs?: number;
  /** The paired endpoints, when they outlive the simulator (default: a new, empty store). */
  readonly endpoints?: EndpointStore;
}

export type VehicleSessionOutcome =
  | { readonly kind: "paired"; readonly keyId: Uint8Array; readonly attested: boolean }
  | { readonly kind: "unlocked"; readonly keyId: Uint8Array }
  | { readonly kind: "failed"; readonly error: OwnerProtocolError };

/**
 * The vehicle simulator: the reference peer for owner pairing and the standard transaction.
 * `serve(link)` handles one connection to its end; the first message decides what it is.
 */
export class VehicleSimulator implements VehicleProvisioning {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly identity: VehicleIdentity;
  readonly verifiers: VerifierStore;
  readonly endpoints: EndpointStore;
  readonly options: VehicleOptions;
  readonly descriptorBytes: Uint8Array;
  #pairingInProgress = false;

  constructor(options: VehicleOptions) {
    this.options = options;
    this.crypto = options.crypto;
    this.clock = options.clock ?? systemClock;
    this.identity = options.identity;
    this.verifiers = new VerifierStore(options.crypto);
    this.endpoints = options.endpoints ?? new EndpointStore();
    this.descriptorBytes = encodeDescriptor({
      ...options.descriptor,
      certificateChain: options.identity.certificateChain,
    });
  }

  /** Wipes the identity private key and the verifier; the simulator is unusable after. */
  destroy(): void {
    this.verifiers.clear();
    wipe(this.identity.keyPair.privateKey);
  }

  emit(event: VehicleEvent): void {
    this.options.onEvent?.(event);
  }

  async provision(record: VerifierRecord): Promise<void> {
    this.verifiers.provision(record);
  }

  async revoke(keyId: Uint8Array): Promise<boolean> {
    const removed = this.endpoints.remove(keyId);
    if (removed) this.emit({ type: "revoked", keyId: keyId.slice() });
    return removed;
  }

  /**
   * Checks a KeyAtt for one of this vehicle's endpoints against the KTS key and keeps it: at
   * pairing (SIG_BITMAP_UPDATE) or, when it was owed, in a standard transaction. False when it
   * does not verify, names another key or vehicle, or no KTS key is configured.
   */
  acceptAttestation(keyId: Uint8Array, encoded: Uint8Array): boolean {
    const kts = this.options.ktsPublicKey;
    const endpoint = this.endpoints.get(keyId);
    if (kts === undefined || endpoint === undefined) return false;
    let attestation: KeyAttestation;
    try {
      attestation = decodeKeyAttestation(encoded);
    } catch {
      return false;
    }
    const valid =
      attestationNamesEndpoint(this.crypto, attestation, {
        keyId,
        vehicleId: this.identity.vehicleId,
        publicKey: endpoint.publicKey,
      }) && verifyKeyAttestation(this.crypto, kts, attestation);
    if (!valid) return false;
    this.endpoints.attest(keyId, encoded);
    this.emit({ type: "attested", keyId: keyId.slice() });
    return true;
  }

  /** Manufacturer data (docs/protocol.md §2.1): the hint is the vehicle id hash a phone filters on (§3.1). */
  manufacturerData(): ManufacturerData {
    return pairkitManufacturerData(
      DeviceKind.VEHICLE,
      vehicleAdvertisementHash(this.crypto, this.identity.vehicleId),
    );
  }

  async serve(link: Link): Promise<VehicleSessionOutcome> {
    const messenger = new OwnerMessenger(link, this.clock);
    let first: { type: number; payload: Uint8Array };
    try {
      first = await link.receive({
        timeoutMs: new Deadline(this.clock, OwnerTimeouts.response, "first message").nextWait(),
      });
    } catch (error) {
      const failure = toOwnerProtocolError(error, OwnerPhase.SPAKE2);
      // A phone that stays silent is dropped; one whose first frame breaks a link rule is told which.
      if (error instanceof TimeoutError) await link.close();
      else {
        await messenger.reportError(failure);
        await messenger.hangUp();
      }
      return { kind: "failed", error: failure };
    }
    if (first.type === OwnerFrameType.TXN_START) return runVehicleTransaction(this, messenger, first.payload);
    if (first.type === OwnerFrameType.ERROR) {
      // Even as the first message, a peer's ERROR is never answered with one (§3.2, §3.9).
      await messenger.hangUp();
      return { kind: "failed", error: errorFromPeer(first.payload, OwnerPhase.SPAKE2) };
    }
    if (first.type !== OwnerFrameType.SELECT) {
      const error = new OwnerProtocolError(
        OwnerPhase.SPAKE2,
        OwnerErrorCode.UNEXPECTED_MESSAGE,
        "expected SELECT or TXN_START",
      );
      await messenger.reportError(error);
      await messenger.hangUp();
      return { kind: "failed", error };
    }
    if (this.#pairingInProgress) {
      // One owner device at a time: a second phone is turned away without touching the attempts.
      const error = new OwnerProtocolError(
        OwnerPhase.SPAKE2,
        OwnerErrorCode.BUSY,
        "another device is pairing",
        {
          retryAllowed: true,
        },
      );
      await messenger.reportError(error);
      await messenger.hangUp();
      return { kind: "failed", error };
    }
    this.#pairingInProgress = true;
    try {
      return await new VehiclePairingSession(this, messenger).run(first.payload);
    } finally {
      this.#pairingInProgress = false;
    }
  }
}
