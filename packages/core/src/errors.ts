/**
 * The error hierarchy of pairkit. Every error that crosses a module boundary is a
 * {@link PairkitError} with a stable machine-readable `code`; callers branch on the class or
 * the code, never on the message. Messages never carry secrets.
 */
export class PairkitError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A cryptographic operation failed or was given malformed input. */
export class CryptoError extends PairkitError {}

/** A byte string has the wrong length (key, point, nonce, evidence…). */
export class InvalidLengthError extends CryptoError {
  constructor(what: string, expected: number | string, actual: number) {
    super("INVALID_LENGTH", `${what}: expected ${expected} bytes, got ${actual}`);
  }
}

/** A curve point from the wire is not on P-256, is the identity, or is badly encoded. */
export class InvalidPointError extends CryptoError {
  constructor(what: string, options?: { cause?: unknown }) {
    super("INVALID_POINT", `${what}: not a valid P-256 point`, options);
  }
}

/** A scalar (private key, SPAKE2+ w0/w1/x/y) is outside [1, n-1]. */
export class InvalidScalarError extends CryptoError {
  constructor(what: string) {
    super("INVALID_SCALAR", `${what}: scalar out of range [1, n-1]`);
  }
}

/** A key confirmation (SPAKE2+ confirmP/confirmV) did not match: wrong password or tampering. */
export class ConfirmationError extends CryptoError {
  constructor(what: string) {
    super("CONFIRMATION_FAILED", `${what}: key confirmation mismatch`);
  }
}

/** An ECDSA signature (DER, or P1363 r ‖ s) is not strictly encoded, or r/s are out of range. */
export class SignatureEncodingError extends CryptoError {
  constructor(reason: string) {
    super("INVALID_SIGNATURE_ENCODING", `ECDSA signature: ${reason}`);
  }
}

/** AEAD authentication failed (bad tag, wrong key, altered header or ciphertext). */
export class DecryptionError extends CryptoError {
  constructor(options?: { cause?: unknown }) {
    super("DECRYPTION_FAILED", "AES-GCM authentication failed", options);
  }
}

/** An operation was cancelled through its AbortSignal. */
export class AbortedError extends PairkitError {
  constructor(options?: { cause?: unknown }) {
    super("ABORTED", "operation aborted", options);
  }
}

/**
 * Rethrows `error` unless it is an instance of `kind`; lets a catch block handle only the
 * failures it expects without swallowing programming errors.
 */
export function expectError<T extends PairkitError>(
  error: unknown,
  kind: abstract new (...args: never[]) => T,
): T {
  if (error instanceof kind) return error;
  throw error;
}

/** A wait exceeded its deadline (a seed 001 §2 timeout, a radio scan, an HTTP call). */
export class TimeoutError extends PairkitError {
  constructor(what: string, ms: number) {
    super("TIMEOUT", `${what}: no answer within ${ms} ms`);
  }
}

/** The transport failed: disconnected, not connected, adapter error. */
export class TransportError extends PairkitError {}

/** A peer broke the protocol (unexpected message, bad field); `phase` names where (seed 001 §3 ErrorFrame). */
export class ProtocolError extends PairkitError {
  readonly phase: string;

  constructor(code: string, phase: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.phase = phase;
  }
}
