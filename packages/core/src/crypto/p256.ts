import { p256 } from "@noble/curves/nist.js";
import { bigintToBytes, bytesToBigint, expectLength } from "../bytes.ts";
import { InvalidPointError, InvalidScalarError } from "../errors.ts";
import type { P256Point } from "./crypto.ts";

/** P-256 helpers shared by both back-ends and by SPAKE2+: encodings and wire validation. */
export const P256 = p256.Point;
export const P256_ORDER: bigint = p256.Point.Fn.ORDER;
export const POINT_LENGTH = 65;
export const SCALAR_LENGTH = 32;

/**
 * Decodes a 65-byte SEC1 uncompressed point from the wire and validates it: on the curve and
 * not the identity. Every point that arrives from a peer goes through here.
 */
export function decodePoint(bytes: Uint8Array, what: string): P256Point {
  expectLength(bytes, POINT_LENGTH, what);
  if (bytes[0] !== 0x04) throw new InvalidPointError(what);
  let point: P256Point;
  try {
    point = P256.fromBytes(bytes);
    point.assertValidity();
  } catch (cause) {
    throw new InvalidPointError(what, { cause });
  }
  if (point.is0()) throw new InvalidPointError(what);
  return point;
}

export function encodePoint(point: P256Point): Uint8Array {
  return point.toBytes(false);
}

/** A 32-byte big-endian scalar in [1, n-1]. */
export function decodeScalar(bytes: Uint8Array, what: string): bigint {
  expectLength(bytes, SCALAR_LENGTH, what);
  return checkScalar(bytesToBigint(bytes), what);
}

export function checkScalar(k: bigint, what: string): bigint {
  if (k < 1n || k >= P256_ORDER) throw new InvalidScalarError(what);
  return k;
}

export function encodeScalar(k: bigint): Uint8Array {
  return bigintToBytes(k, SCALAR_LENGTH);
}
