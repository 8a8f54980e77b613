import {
  type Crypto,
  checkScryptParams,
  constantTimeEqual,
  InvalidScryptParamsError,
  type ScryptParams,
  toHex,
  utf8,
  wipe,
} from "@pairkit/core";

const PREFIX = "scrypt";
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/**
 * Slow, salted hash for low-entropy secrets (owner PINs): `scrypt$N$r$p$salt$hash`, base64 parts.
 * The parameters travel with the hash so they can be raised without invalidating old PINs.
 */
export async function hashLowEntropySecret(
  crypto: Crypto,
  secret: string,
  params: ScryptParams,
): Promise<string> {
  const salt = crypto.randomBytes(SALT_BYTES);
  const secretBytes = utf8(secret);
  try {
    const hash = await crypto.scrypt(secretBytes, salt, params, HASH_BYTES);
    return [PREFIX, params.N, params.r, params.p, b64(salt), b64(hash)].join("$");
  } finally {
    wipe(secretBytes);
  }
}

/**
 * Checks a secret against a stored `scrypt$N$r$p$salt$hash`. The hash and salt lengths come from
 * this algorithm, never from the record: an empty or truncated stored hash would otherwise be
 * compared over zero bytes and match any secret. A malformed record matches nothing.
 */
export async function verifyLowEntropySecret(
  crypto: Crypto,
  secret: string,
  encoded: string,
): Promise<boolean> {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== PREFIX) return false;
  const params = parseParams(parts[1]!, parts[2]!, parts[3]!);
  const salt = Buffer.from(parts[4]!, "base64");
  const expected = Buffer.from(parts[5]!, "base64");
  if (params === undefined || salt.length !== SALT_BYTES || expected.length !== HASH_BYTES) return false;
  const secretBytes = utf8(secret);
  try {
    const actual = await crypto.scrypt(secretBytes, salt, params, HASH_BYTES);
    return constantTimeEqual(actual, expected);
  } finally {
    wipe(secretBytes);
  }
}

/** The record's scrypt parameters, within the bounds core accepts from any peer; undefined if not. */
function parseParams(N: string, r: string, p: string): ScryptParams | undefined {
  if (![N, r, p].every((part) => /^[1-9][0-9]{0,7}$/.test(part))) return undefined;
  const params = { N: Number(N), r: Number(r), p: Number(p) };
  try {
    return checkScryptParams(params);
  } catch (error) {
    if (error instanceof InvalidScryptParamsError) return undefined;
    throw error;
  }
}

/**
 * Hash for high-entropy random secrets (vehicle MQTT passwords, 32 random bytes): SHA-256 is
 * enough because guessing the input is infeasible, and it keeps broker logins cheap.
 */
export function hashRandomSecret(crypto: Crypto, secret: string): string {
  return toHex(crypto.sha256(utf8(secret)));
}

export function verifyRandomSecret(crypto: Crypto, secret: Uint8Array, hashHex: string): boolean {
  return constantTimeEqual(utf8(toHex(crypto.sha256(secret))), utf8(hashHex));
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}
