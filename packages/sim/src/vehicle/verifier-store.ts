import {
  bytesToBigint,
  type Crypto,
  checkScryptParams,
  expectLength,
  PairkitError,
  type PreparedVerifier,
  prepareVerifier,
  type ScryptParams,
  wipe,
} from "@pairkit/core";

/** What the backend provisions to the vehicle for one pairing session (DESIGN.md phase 1). */
export interface VerifierRecord {
  readonly sessionId: string;
  readonly salt: Uint8Array;
  readonly scrypt: ScryptParams;
  /** 32-byte big-endian scalar. */
  readonly w0: Uint8Array;
  /** L = w1·G, SEC1 uncompressed. */
  readonly L: Uint8Array;
  /** Milliseconds since the Unix epoch. */
  readonly expiresAt: number;
  readonly maxAttempts: number;
}

export class ProvisioningError extends PairkitError {}

export interface ActiveVerifier {
  readonly record: VerifierRecord;
  readonly prepared: PreparedVerifier;
  remainingAttempts: number;
}

/**
 * The vehicle's verifier slot. One owner pairing session at a time (seed 000): provisioning a
 * new record replaces the previous one. The attempt counter is authoritative here; `charge`
 * decrements it synchronously, so two connections can never spend the same attempt.
 */
export class VerifierStore {
  #active: ActiveVerifier | undefined;

  constructor(private readonly crypto: Crypto) {}

  provision(record: VerifierRecord): void {
    expectLength(record.salt, 16, "salt");
    expectLength(record.w0, 32, "w0");
    checkScryptParams(record.scrypt);
    if (!Number.isInteger(record.maxAttempts) || record.maxAttempts < 1 || record.maxAttempts > 255)
      throw new ProvisioningError("INVALID_VERIFIER", "maxAttempts must be 1–255");
    if (!Number.isFinite(record.expiresAt))
      throw new ProvisioningError("INVALID_VERIFIER", "expiresAt must be a time");
    // prepareVerifier validates w0 (scalar range) and L (on the curve, not the identity).
    const prepared = prepareVerifier(this.crypto, { w0: bytesToBigint(record.w0), L: record.L });
    this.#active = {
      record: { ...record, salt: record.salt.slice(), w0: record.w0.slice(), L: record.L.slice() },
      prepared,
      remainingAttempts: record.maxAttempts,
    };
  }

  current(): ActiveVerifier | undefined {
    return this.#active;
  }

  /** Spends one attempt of `sessionId`; returns what is left (0 = now locked), or undefined when gone. */
  charge(sessionId: string): number | undefined {
    const active = this.#active;
    if (!active || active.record.sessionId !== sessionId || active.remainingAttempts === 0) return undefined;
    active.remainingAttempts -= 1;
    return active.remainingAttempts;
  }

  /** Forgets the verifier record (w0 is a password-derived secret). */
  clear(): void {
    if (this.#active) wipe(this.#active.record.w0);
    this.#active = undefined;
  }

  /** A successful pairing uses the verifier up. */
  consume(sessionId: string): void {
    if (this.#active?.record.sessionId === sessionId) this.clear();
  }
}
