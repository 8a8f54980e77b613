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

  add(endpoint: PairedEndpoint): void {
    this.#endpoints.set(toHex(endpoint.keyId), endpoint);
  }

  get(keyId: Uint8Array): PairedEndpoint | undefined {
    return this.#endpoints.get(toHex(keyId));
  }

  attest(keyId: Uint8Array, keyAttestation: Uint8Array): void {
    const endpoint = this.get(keyId);
    if (endpoint) this.add({ ...endpoint, keyAttestation: keyAttestation.slice() });
  }

  remove(keyId: Uint8Array): boolean {
    return this.#endpoints.delete(toHex(keyId));
  }

  list(): readonly PairedEndpoint[] {
    return [...this.#endpoints.values()];
  }
}
