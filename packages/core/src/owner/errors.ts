import { InvalidScryptParamsError } from "../crypto/password.ts";
import {
  AbortedError,
  ConfirmationError,
  DecryptionError,
  InvalidPointError,
  PairkitError,
  ProtocolError,
  TimeoutError,
  TransportError,
} from "../errors.ts";
import { FrameError } from "../ports/frame-error.ts";
import { CertificateError } from "./certificates.ts";
import { errorCodeName, OwnerErrorCode, OwnerPhase, phaseName } from "./constants.ts";
import { MessageFormatError } from "./wire.ts";

/**
 * An owner pairing or transaction step failed. `wireCode` is the ErrorFrame code (sent to or
 * received from the peer); `code` is its stable name. `fromPeer` says the peer reported it.
 */
export class OwnerProtocolError extends ProtocolError {
  readonly wireCode: number;
  readonly phaseNumber: OwnerPhase;
  readonly retryAllowed: boolean;
  readonly fromPeer: boolean;

  constructor(
    phase: OwnerPhase,
    wireCode: number,
    message: string,
    options: { retryAllowed?: boolean; fromPeer?: boolean; cause?: unknown } = {},
  ) {
    super(errorCodeName(wireCode), phaseName(phase), message, { cause: options.cause });
    this.wireCode = wireCode;
    this.phaseNumber = phase;
    // From finalization on the verifier is consumed, and a denied transaction is not retried as
    // such: nothing there can be retried with the same password (docs/protocol.md §3.9).
    this.retryAllowed = (options.retryAllowed ?? false) && phase < OwnerPhase.FINALIZE;
    this.fromPeer = options.fromPeer ?? false;
  }
}

/** A secure-element, keychain or other local port failed. */
export class SecureElementError extends PairkitError {}

/** A PairingApi call failed; `code` is the server's error code when it gave one. */
export class ApiError extends PairkitError {
  readonly remainingAttempts: number | undefined;
  readonly retryAfter: number | undefined;

  constructor(
    code: string,
    message: string,
    options: { remainingAttempts?: number; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.remainingAttempts = options.remainingAttempts;
    this.retryAfter = options.retryAfter;
  }
}

/**
 * Maps any failure inside a step to the ErrorFrame that reports it. Errors that are not
 * pairkit errors are programming faults: they become INTERNAL, and are never retryable.
 */
export function toOwnerProtocolError(error: unknown, phase: OwnerPhase): OwnerProtocolError {
  if (error instanceof OwnerProtocolError) return error;
  const wrap = (code: number, retryAllowed: boolean) =>
    new OwnerProtocolError(phase, code, error instanceof Error ? error.message : "failure", {
      retryAllowed,
      cause: error,
    });
  if (error instanceof ConfirmationError) return wrap(OwnerErrorCode.CONFIRMATION_FAILED, true);
  if (error instanceof InvalidPointError) return wrap(OwnerErrorCode.INVALID_POINT, true);
  if (error instanceof MessageFormatError) return wrap(OwnerErrorCode.MALFORMED_MESSAGE, true);
  if (error instanceof TimeoutError) return wrap(OwnerErrorCode.TIMEOUT, true);
  if (error instanceof AbortedError) return wrap(OwnerErrorCode.ABORTED, true);
  // The vehicle's verifier will offer the same parameters again: retrying cannot help.
  if (error instanceof InvalidScryptParamsError) return wrap(OwnerErrorCode.INVALID_SCRYPT_PARAMS, false);
  if (error instanceof CertificateError) return wrap(OwnerErrorCode.CERTIFICATE_INVALID, false);
  if (error instanceof DecryptionError) return wrap(OwnerErrorCode.DECRYPTION_FAILED, true);
  // A link rejection travels with its own code (§3.9), so the peer sees which rule broke.
  if (error instanceof FrameError) return wrap(OwnerErrorCode[error.code], true);
  if (error instanceof TransportError) return wrap(OwnerErrorCode.DISCONNECTED, true);
  if (error instanceof SecureElementError) return wrap(OwnerErrorCode.ENDPOINT_FAILED, true);
  // The backend refused or failed: the device gives up on this attempt.
  if (error instanceof ApiError) return wrap(OwnerErrorCode.ABORTED, error.retryAfter !== undefined);
  return wrap(OwnerErrorCode.INTERNAL, false);
}
