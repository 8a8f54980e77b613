import { fromHex, toHex } from "@pairkit/core";
import {
  type VehicleEvent as LinkEvent,
  type ProvisionMessage,
  type RevokeMessage,
  VehicleLinkClient,
  type VehicleLinkClientOptions,
} from "@pairkit/server";
import type { VehicleEvent, VehicleProvisioning } from "./vehicle.ts";
import type { VerifierRecord } from "./verifier-store.ts";

export interface MqttProvisioningOptions extends VehicleLinkClientOptions {
  /** A failed event publish (the broker went away); the server then learns it from the next one. */
  readonly onPublishError?: (error: unknown) => void;
}

/** The Provision payload (docs/vehicle-link.md) as the vehicle's verifier record. */
export function verifierRecordOf(message: ProvisionMessage): VerifierRecord {
  const bytes = (base64: string) => new Uint8Array(Buffer.from(base64, "base64"));
  return {
    sessionId: message.sessionId,
    salt: bytes(message.salt),
    scrypt: { ...message.scrypt },
    w0: bytes(message.w0),
    L: bytes(message.L),
    expiresAt: Date.parse(message.expiresAt),
    maxAttempts: message.maxAttempts,
  };
}

/**
 * The vehicle simulator on the vehicle link: the backend's provision and revoke deliveries drive
 * the vehicle's `VehicleProvisioning` port and are acknowledged only once the vehicle has stored
 * (or refused) them; the vehicle's pairing and revocation events go back upstream. Feed the
 * vehicle's events in through `onVehicleEvent` (wire it as `VehicleOptions.onEvent`).
 */
export class MqttVehicleProvisioning {
  readonly #link: VehicleLinkClient;
  readonly #options: MqttProvisioningOptions;
  /** Backend key ids by endpointIdHash (hex), learned from revoke deliveries: `endpoint_revoked` needs one. */
  readonly #backendKeyIds: Map<string, string>;
  #outbox: Promise<void> = Promise.resolve();

  private constructor(
    link: VehicleLinkClient,
    options: MqttProvisioningOptions,
    keyIds: Map<string, string>,
  ) {
    this.#link = link;
    this.#options = options;
    this.#backendKeyIds = keyIds;
  }

  static async connect(
    vehicle: VehicleProvisioning,
    options: MqttProvisioningOptions,
  ): Promise<MqttVehicleProvisioning> {
    const keyIds = new Map<string, string>();
    const link = await VehicleLinkClient.connect(options, {
      // A record the vehicle refuses (bad lengths, invalid point) throws: the ack says `rejected`.
      onProvision: (message) => vehicle.provision(verifierRecordOf(message)),
      onRevoke: async (message: RevokeMessage) => {
        keyIds.set(message.endpointIdHash, message.keyId);
        // Forgetting an endpoint the vehicle does not hold is still a success: re-sent revocations
        // (after a lost ack) must converge.
        await vehicle.revoke(fromHex(message.endpointIdHash));
      },
    });
    return new MqttVehicleProvisioning(link, options, keyIds);
  }

  /** Publishes the upstream counterpart of a vehicle event, in the order the vehicle emitted them. */
  readonly onVehicleEvent = (event: VehicleEvent): void => {
    const message = this.#linkEventOf(event);
    if (!message) return;
    this.#outbox = this.#outbox
      .then(() => this.#link.publishEvent(message))
      .catch((error: unknown) => this.#options.onPublishError?.(error));
  };

  /** Resolves once every event handed over so far has been published (or failed to be). */
  flush(): Promise<void> {
    return this.#outbox;
  }

  /** The highest verifier sequence stored; persist it across restarts (`verifierSeq`). */
  get verifierSeq(): number {
    return this.#link.verifierSeq;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#link.close();
  }

  #linkEventOf(event: VehicleEvent): LinkEvent | undefined {
    switch (event.type) {
      case "attempt-failed":
        return {
          type: "attempt_failed",
          sessionId: event.sessionId,
          remainingAttempts: event.remainingAttempts,
        };
      case "locked":
        return { type: "locked", sessionId: event.sessionId };
      case "paired":
        // The vehicle's key id is SHA-256(endpoint public key)[0:16]: the endpointIdHash itself.
        return { type: "paired", sessionId: event.sessionId, endpointIdHash: toHex(event.keyId) };
      case "revoked": {
        const endpointIdHash = toHex(event.keyId);
        const keyId = this.#backendKeyIds.get(endpointIdHash);
        // Only the backend names keys by its record id; a key it never named cannot be reported.
        return keyId === undefined ? undefined : { type: "endpoint_revoked", keyId, endpointIdHash };
      }
      default:
        // attested / unlocked / denied stay on the vehicle: the link has no message for them.
        return undefined;
    }
  }
}
