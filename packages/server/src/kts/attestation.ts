import {
  type Crypto,
  fromHex,
  type KeyAttestation,
  signKeyAttestation,
  utf8,
  verifyKeyAttestation,
} from "@pairkit/core";

export interface AttestationFields {
  /** The endpoint's key id, hex: SHA-256(endpoint public key)[0:16] (= endpointIdHash, the phone's and vehicle's key id). */
  readonly endpointKeyId: string;
  readonly vehicleId: string;
  /** SHA-256 of the endpoint public key (SEC1 uncompressed). */
  readonly endpointPublicKeyHash: Uint8Array;
  readonly issuedAt: Date;
}

/**
 * The attestation as the SDK and the vehicle encode and check it (docs/protocol.md, KTS key
 * attestation): one signed byte string for all three parties, defined once in @pairkit/core.
 */
function toKeyAttestation(fields: AttestationFields): Omit<KeyAttestation, "signature"> {
  return {
    keyId: fromHex(fields.endpointKeyId),
    vehicleId: utf8(fields.vehicleId),
    endpointPublicKeyHash: fields.endpointPublicKeyHash,
    issuedAt: fields.issuedAt.getTime(),
  };
}

/** The key tracking server's signing key (ECDSA P-256, DER signatures as Go's ecdsa.SignASN1). */
export class KeyTrackingSigner {
  readonly publicKey: Uint8Array;
  readonly #crypto: Crypto;
  readonly #privateKey: Uint8Array;

  constructor(crypto: Crypto, privateKey: Uint8Array) {
    this.#crypto = crypto;
    this.#privateKey = privateKey;
    this.publicKey = crypto.publicKeyOf(privateKey);
  }

  sign(fields: AttestationFields): Uint8Array {
    return signKeyAttestation(this.#crypto, this.#privateKey, toKeyAttestation(fields)).signature;
  }

  /** False for a wrong or malformed signature: the caller fails closed either way. */
  verify(fields: AttestationFields, signature: Uint8Array): boolean {
    return verifyKeyAttestation(this.#crypto, this.publicKey, { ...toKeyAttestation(fields), signature });
  }
}
