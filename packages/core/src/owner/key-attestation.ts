import { concatBytes, constantTimeEqual, utf8 } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { DIGEST_LENGTH, KEY_ID_LENGTH, OwnerLabel } from "./constants.ts";
import { MessageFormatError, WireReader, WireWriter } from "./wire.ts";

/**
 * The KTS key attestation (DESIGN.md phase 4): the key tracking server vouches that this
 * endpoint key belongs to this vehicle's owner key. Signed by the KTS key (ECDSA P-256, DER).
 */
export interface KeyAttestation {
  readonly keyId: Uint8Array;
  readonly vehicleId: Uint8Array;
  /** SHA-256 of the endpoint public key (SEC1 uncompressed). */
  readonly endpointPublicKeyHash: Uint8Array;
  /** Milliseconds since the Unix epoch. */
  readonly issuedAt: number;
  readonly signature: Uint8Array;
}

const MAX_SIGNATURE_LENGTH = 72;
/** keyId 16 + vehicleIdLength 1 + vehicleId ≤ 64 + hash 32 + issuedAt 8 + signatureLength 1 + signature ≤ 72. */
export const MAX_KEY_ATTESTATION_LENGTH =
  KEY_ID_LENGTH + 1 + 64 + DIGEST_LENGTH + 8 + 1 + MAX_SIGNATURE_LENGTH;

function encodeSignedPart(m: Omit<KeyAttestation, "signature">): Uint8Array {
  if (m.vehicleId.length < 1 || m.vehicleId.length > 64)
    throw new MessageFormatError("key attestation", "vehicleId must be 1–64 bytes");
  return new WireWriter("key attestation")
    .bytes(m.keyId, KEY_ID_LENGTH, "keyId")
    .u8(m.vehicleId.length)
    .bytes(m.vehicleId)
    .bytes(m.endpointPublicKeyHash, DIGEST_LENGTH, "endpointPublicKeyHash")
    .u64(m.issuedAt, "issuedAt")
    .finish();
}

export function encodeKeyAttestation(m: KeyAttestation): Uint8Array {
  if (m.signature.length < 8 || m.signature.length > MAX_SIGNATURE_LENGTH)
    throw new MessageFormatError("key attestation", "signature length out of range");
  return new WireWriter("key attestation")
    .bytes(encodeSignedPart(m))
    .u8(m.signature.length)
    .bytes(m.signature)
    .finish();
}

export function decodeKeyAttestation(bytes: Uint8Array): KeyAttestation {
  const r = new WireReader(bytes, "key attestation");
  const keyId = r.bytesOf(KEY_ID_LENGTH, "keyId");
  const vehicleIdLength = r.u8("vehicleIdLength");
  if (vehicleIdLength < 1 || vehicleIdLength > 64) r.fail("vehicleIdLength out of range");
  const vehicleId = r.bytesOf(vehicleIdLength, "vehicleId");
  const endpointPublicKeyHash = r.bytesOf(DIGEST_LENGTH, "endpointPublicKeyHash");
  const issuedAt = r.u64("issuedAt");
  const signatureLength = r.u8("signatureLength");
  if (signatureLength < 8 || signatureLength > MAX_SIGNATURE_LENGTH) r.fail("signature length out of range");
  const signature = r.bytesOf(signatureLength, "signature");
  r.end();
  return { keyId, vehicleId, endpointPublicKeyHash, issuedAt, signature };
}

function signedMessage(m: Omit<KeyAttestation, "signature">): Uint8Array {
  return concatBytes(utf8(OwnerLabel.keyAttestation), encodeSignedPart(m));
}

export function signKeyAttestation(
  crypto: Crypto,
  ktsPrivateKey: Uint8Array,
  fields: Omit<KeyAttestation, "signature">,
): KeyAttestation {
  return { ...fields, signature: crypto.ecdsaSign(ktsPrivateKey, signedMessage(fields)) };
}

/** False for a wrong or malformed signature: an attestation that cannot be checked is a failure. */
export function verifyKeyAttestation(crypto: Crypto, ktsPublicKey: Uint8Array, m: KeyAttestation): boolean {
  try {
    return crypto.ecdsaVerify(ktsPublicKey, signedMessage(m), m.signature);
  } catch {
    return false;
  }
}

/**
 * Whether the attestation's fields name exactly this endpoint of this vehicle (compared in constant
 * time). Says nothing about the signature: pair it with {@link verifyKeyAttestation}.
 */
export function attestationNamesEndpoint(
  crypto: Crypto,
  m: KeyAttestation,
  endpoint: { readonly keyId: Uint8Array; readonly vehicleId: string; readonly publicKey: Uint8Array },
): boolean {
  const keyId = constantTimeEqual(m.keyId, endpoint.keyId);
  const vehicle = constantTimeEqual(m.vehicleId, utf8(endpoint.vehicleId));
  const publicKey = constantTimeEqual(m.endpointPublicKeyHash, crypto.sha256(endpoint.publicKey));
  return keyId && vehicle && publicKey;
}
