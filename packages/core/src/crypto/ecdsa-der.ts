import { bigintToBytes, bytesToBigint, concatBytes, expectLength } from "../bytes.ts";
import { SignatureEncodingError } from "../errors.ts";
import { P256_ORDER } from "./p256.ts";

/**
 * Strict ASN.1 DER for ECDSA signatures: `SEQUENCE { INTEGER r, INTEGER s }`, as Go's
 * `ecdsa.SignASN1` writes and `ecdsa.VerifyASN1` reads. Strict means: minimal lengths, no
 * negative or zero-padded integers, no trailing bytes, r and s in [1, n-1]. High-S is valid
 * (Go never normalises s).
 */
export interface EcdsaSignature {
  readonly r: bigint;
  readonly s: bigint;
}

/** Longest DER P-256 signature: 2 + 2·(2 + 33). Short-form lengths always suffice. */
const MAX_DER_LENGTH = 72;

export function decodeDerSignature(der: Uint8Array): EcdsaSignature {
  if (der.length < 8 || der.length > MAX_DER_LENGTH) throw new SignatureEncodingError("bad length");
  if (der[0] !== 0x30) throw new SignatureEncodingError("not a SEQUENCE");
  if (der[1]! & 0x80) throw new SignatureEncodingError("long-form length");
  if (der[1] !== der.length - 2) throw new SignatureEncodingError("SEQUENCE length mismatch");
  const [r, afterR] = readInteger(der, 2, "r");
  const [s, afterS] = readInteger(der, afterR, "s");
  if (afterS !== der.length) throw new SignatureEncodingError("trailing bytes");
  return { r, s };
}

function readInteger(der: Uint8Array, offset: number, name: string): [bigint, number] {
  if (der[offset] !== 0x02) throw new SignatureEncodingError(`${name} is not an INTEGER`);
  const length = der[offset + 1];
  if (length === undefined || length & 0x80) throw new SignatureEncodingError(`${name} length`);
  if (length === 0 || length > 33) throw new SignatureEncodingError(`${name} length ${length}`);
  const start = offset + 2;
  if (start + length > der.length) throw new SignatureEncodingError(`${name} truncated`);
  const body = der.subarray(start, start + length);
  if (body[0]! & 0x80) throw new SignatureEncodingError(`${name} is negative`);
  if (body[0] === 0 && (length === 1 || !(body[1]! & 0x80))) {
    throw new SignatureEncodingError(`${name} has a superfluous leading zero`);
  }
  return [checkRange(bytesToBigint(body), name), start + length];
}

export function encodeDerSignature({ r, s }: EcdsaSignature): Uint8Array {
  const body = concatBytes(encodeInteger(r), encodeInteger(s));
  return concatBytes(Uint8Array.of(0x30, body.length), body);
}

function encodeInteger(value: bigint): Uint8Array {
  let body = bigintToBytes(value, 32);
  let start = 0;
  while (start < body.length - 1 && body[start] === 0) start++;
  body = body.subarray(start);
  if (body[0]! & 0x80) body = concatBytes(Uint8Array.of(0), body);
  return concatBytes(Uint8Array.of(0x02, body.length), body);
}

/** r ‖ s, 32 bytes each (IEEE P1363), for back-ends that take that form. */
export function signatureToCompact({ r, s }: EcdsaSignature): Uint8Array {
  return concatBytes(bigintToBytes(r, 32), bigintToBytes(s, 32));
}

/** Reads r ‖ s (IEEE P1363): exactly 64 bytes, r and s in [1, n-1], like the DER form. */
export function signatureFromCompact(compact: Uint8Array): EcdsaSignature {
  expectLength(compact, 64, "P1363 ECDSA signature");
  return {
    r: checkRange(bytesToBigint(compact.subarray(0, 32)), "r"),
    s: checkRange(bytesToBigint(compact.subarray(32, 64)), "s"),
  };
}

function checkRange(value: bigint, name: string): bigint {
  if (value < 1n || value >= P256_ORDER) throw new SignatureEncodingError(`${name} out of range`);
  return value;
}
