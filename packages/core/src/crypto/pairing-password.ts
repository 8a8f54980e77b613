import { PairkitError } from "../errors.ts";

export const PAIRING_PASSWORD_DIGITS = 8;
const SPACE = 10 ** PAIRING_PASSWORD_DIGITS;
/** Largest multiple of 10⁸ below 2³²: uint32 draws at or above it are rejected (no modulo bias). */
const ACCEPT_BELOW = 2 ** 32 - (2 ** 32 % SPACE);
/** A CSPRNG that fails this often is broken; give up rather than loop forever. */
const MAX_DRAWS = 1000;

/**
 * A uniform 8-digit pairing password from a CSPRNG, by rejection sampling, skipping the trivial
 * patterns DESIGN.md names (one repeated digit; ascending or descending runs, wrapping 9→0).
 */
export function generatePairingPassword(randomBytes: (length: number) => Uint8Array): string {
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const bytes = randomBytes(4);
    const value = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
    bytes.fill(0);
    if (value >= ACCEPT_BELOW) continue;
    const password = String(value % SPACE).padStart(PAIRING_PASSWORD_DIGITS, "0");
    if (!isTrivialPassword(password)) return password;
  }
  throw new PairkitError("RANDOM_FAILURE", "random source produced no acceptable password");
}

export function isTrivialPassword(password: string): boolean {
  const digits = [...password].map(Number);
  const steps = new Set(digits.slice(1).map((d, i) => (d - digits[i]! + 10) % 10));
  // One step size across the whole password: 0 = repeated digit, 1 = ascending, 9 = descending.
  return steps.size === 1 && (steps.has(0) || steps.has(1) || steps.has(9));
}
