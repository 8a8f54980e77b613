import { bytesToBigint, utf8, wipe } from "../bytes.ts";
import { CryptoError } from "../errors.ts";
import type { Crypto, ScryptOptions, ScryptParams } from "./crypto.ts";
import { encodeScalar, P256_ORDER } from "./p256.ts";

/** DESIGN.md defaults; the seed's server contract advertises the same values. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 32768, r: 8, p: 1 });
export const SALT_LENGTH = 16;
/** scrypt output: two 40-byte halves, 64 bits longer than n, so `mod (n−1)` is unbiased to 2⁻⁶⁴. */
const SCRYPT_OUTPUT_LENGTH = 80;

/**
 * Upper bounds on scrypt parameters accepted from the wire (SPAKE2_REQUEST, server replies):
 * a peer must not be able to make us allocate gigabytes. 2^20·8·128 B = 1 GiB is the ceiling.
 */
const MAX_N = 1 << 20;
const MAX_R = 16;
const MAX_P = 4;

export class InvalidScryptParamsError extends CryptoError {
  constructor(reason: string) {
    super("INVALID_SCRYPT_PARAMS", `scrypt parameters: ${reason}`);
  }
}

export function checkScryptParams(params: ScryptParams): ScryptParams {
  const { N, r, p } = params;
  if (!Number.isInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0) {
    throw new InvalidScryptParamsError(`N must be a power of two in [2, ${MAX_N}]`);
  }
  if (!Number.isInteger(r) || r < 1 || r > MAX_R)
    throw new InvalidScryptParamsError(`r must be in [1, ${MAX_R}]`);
  if (!Number.isInteger(p) || p < 1 || p > MAX_P)
    throw new InvalidScryptParamsError(`p must be in [1, ${MAX_P}]`);
  return params;
}

/** The prover's secrets: both SPAKE2+ password scalars. Only the phone holds w1. */
export interface PasswordScalars {
  readonly w0: bigint;
  readonly w1: bigint;
}

/** What the verifier (vehicle) stores: w0 and L = w1·G. Never w1, never the password. */
export interface PasswordVerifier {
  readonly w0: bigint;
  /** L, SEC1 uncompressed. */
  readonly L: Uint8Array;
}

/**
 * z = scrypt(password, salt, N, r, p, 80); w0 = (z[0:40] mod (n−1)) + 1,
 * w1 = (z[40:80] mod (n−1)) + 1. The CCC rule: neither scalar can be zero.
 */
export async function derivePasswordScalars(
  crypto: Crypto,
  password: string,
  salt: Uint8Array,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
  options?: ScryptOptions,
): Promise<PasswordScalars> {
  checkScryptParams(params);
  if (salt.length < 8 || salt.length > 64) throw new InvalidScryptParamsError("salt must be 8–64 bytes");
  const passwordBytes = utf8(password);
  const z = await crypto.scrypt(passwordBytes, salt, params, SCRYPT_OUTPUT_LENGTH, options);
  try {
    return {
      w0: (bytesToBigint(z.subarray(0, 40)) % (P256_ORDER - 1n)) + 1n,
      w1: (bytesToBigint(z.subarray(40, 80)) % (P256_ORDER - 1n)) + 1n,
    };
  } finally {
    wipe(z, passwordBytes);
  }
}

/** L = w1·G; the verifier record the server provisions to the vehicle. */
export function verifierFromScalars(crypto: Crypto, { w0, w1 }: PasswordScalars): PasswordVerifier {
  return { w0, L: crypto.publicKeyOf(encodeScalar(w1)) };
}
