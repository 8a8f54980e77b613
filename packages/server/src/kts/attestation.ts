import { type Crypto, concatBytes, fromHex, utf8 } from "@pairkit/core";

/** Domain label: a KTS signature can never be mistaken for a signature over anything else. */
const LABEL = utf8("pairkit/kts-key-attestation/v1");

export interface AttestationFields {
  readonly keyId: string;
  readonly vehicleId: string;
  /** SHA-256 of the endpoint public key (SEC1 uncompressed). */
  readonly endpointPublicKeyHash: Uint8Array;
  readonly issuedAt: Date;
}

/**
 * The signed bytes of a key attestation (DESIGN.md phase 4: keyId, vehicleId, endpoint public key
 * hash, issuedAt):
 *   label ‖ keyId (16, the UUID's bytes) ‖ len(vehicleId) (1) ‖ vehicleId (ASCII)
 *   ‖ endpointPublicKeyHash (32) ‖ issuedAt (8, ms since epoch, big-endian)
 * Fixed widths and a length prefix make the encoding injective.
 */
export function encodeAttestation(fields: AttestationFields): Uint8Array {
  const keyId = fromHex(fields.keyId.replaceAll("-", ""));
  const vehicleId = utf8(fields.vehicleId);
  const issuedAt = new Uint8Array(8);
  new DataView(issuedAt.buffer).setBigUint64(0, BigInt(fields.issuedAt.getTime()), false);
  return concatBytes(
    LABEL,
    keyId,
    Uint8Array.of(vehicleId.length),
    vehicleId,
    fields.endpointPublicKeyHash,
    issuedAt,
  );
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
    return this.#crypto.ecdsaSign(this.#privateKey, encodeAttestation(fields));
  }

  /** False for a wrong or malformed signature: the caller fails closed either way. */
  verify(fields: AttestationFields, signature: Uint8Array): boolean {
    try {
      return this.#crypto.ecdsaVerify(this.publicKey, encodeAttestation(fields), signature);
    } catch {
      return false;
    }
  }
}
