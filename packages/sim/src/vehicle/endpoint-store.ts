import { toHex } from "@pairkit/core";

/** A device key the vehicle accepts in standard transactions. */
export interface PairedEndpoint {
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly sessionId: string;
  readonly policyFlags: number;
  readonly pairedAt: number;
  /** The KTS attestation, once delivered and verified. */
  readonly keyAttestation?: Uint8Array;
}

/** The vehicle's paired endpoints, by key id. Revocation forgets an endpoint entirely. */
export class EndpointStore {
  readonly #endpoints = new Map<string, PairedEndpoint>();
  readonly #onChange: ((endpoints: readonly PairedEndpoint[]) => void) | undefined;

  /**
   * `initial`: endpoints kept from an earlier run; `onChange` sees every change (the fleet
   * persists them so a restarted vehicle still opens for its keys).
   */
  constructor(
    initial: readonly PairedEndpoint[] = [],
    onChange?: (endpoints: readonly PairedEndpoint[]) => void,
  ) {
    for (const endpoint of initial) this.#endpoints.set(toHex(endpoint.keyId), endpoint);
    this.#onChange = onChange;
  }

  add(endpoint: PairedEndpoint): void {
    this.#endpoints.set(toHex(endpoint.keyId), endpoint);
    this.#onChange?.(this.list());
  }

  get(keyId: Uint8Array): PairedEndpoint | undefined {
    return this.#endpoints.get(toHex(keyId));
  }

  attest(keyId: Uint8Array, keyAttestation: Uint8Array): void {
    const endpoint = this.get(keyId);
    if (endpoint) this.add({ ...endpoint, keyAttestation: keyAttestation.slice() });
  }

  remove(keyId: Uint8Array): boolean {
    const removed = this.#endpoints.delete(toHex(keyId));
    if (removed) this.#onChange?.(this.list());
    return removed;
  }

  list(): readonly PairedEndpoint[] {
    return [...this.#endpoints.values()];
  }
}
