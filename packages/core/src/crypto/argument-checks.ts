import { InvalidLengthError } from "../errors.ts";
import type { ScryptParams } from "./crypto.ts";
import { InvalidScryptParamsError } from "./password.ts";

/**
 * Checks both crypto back-ends make before calling their library, so that they refuse the same
 * arguments with the same typed error instead of each library's own (or none: noble's HKDF
 * returned 0 bytes for length 0, node:crypto's scrypt accepted r = 0).
 */

/** RFC 5869: L ≤ 255 · HashLen. */
const MAX_HKDF_SHA256_LENGTH = 255 * 32;
/** Far more than any key derivation here needs (32 and 80 bytes); bounds what a bad argument allocates. */
const MAX_SCRYPT_OUTPUT_LENGTH = 1024;
/** scrypt's working set is 128·N·r bytes; the same 1 GiB ceiling as the wire bounds (password.ts). */
const MAX_SCRYPT_MEMORY = 2 ** 30;

export function checkHkdfLength(length: number): void {
  if (!Number.isInteger(length) || length < 1 || length > MAX_HKDF_SHA256_LENGTH)
    throw new InvalidLengthError("HKDF-SHA256 output", `1..${MAX_HKDF_SHA256_LENGTH}`, length);
}

/**
 * RFC 7914's own constraints (N a power of two above 1, r and p positive integers, p·r < 2³⁰)
 * and the memory ceiling. The tighter bounds on parameters that come from a peer are
 * `checkScryptParams`'; this is what any direct call must meet.
 */
export function checkScryptArguments({ N, r, p }: ScryptParams, dkLen: number): void {
  if (!Number.isInteger(N) || N < 2 || (N & (N - 1)) !== 0)
    throw new InvalidScryptParamsError("N must be a power of two above 1");
  if (!Number.isInteger(r) || r < 1 || !Number.isInteger(p) || p < 1 || p * r >= 2 ** 30)
    throw new InvalidScryptParamsError("r and p must be positive integers with p·r < 2^30");
  if (128 * N * r > MAX_SCRYPT_MEMORY) throw new InvalidScryptParamsError("128·N·r must be at most 1 GiB");
  if (!Number.isInteger(dkLen) || dkLen < 1 || dkLen > MAX_SCRYPT_OUTPUT_LENGTH)
    throw new InvalidScryptParamsError(`dkLen must be in [1, ${MAX_SCRYPT_OUTPUT_LENGTH}]`);
}
