import { PairkitError, ProtocolError } from "../errors.ts";

/**
 * Where in the Active Card exchange a failure happened. Either side answers a failure in the
 * challenge, ecdh, binding and forget phases with that phase's failure message; a failure in
 * the rest of the established session gets none (docs/protocol.md §4.8). The
 * mpc phase (§4.11) answers MPC_REFUSED and ends the session too.
 */
export type CardPhase = "challenge" | "ecdh" | "binding" | "forget" | "session" | "mpc";

/**
 * A peer broke the Active Card protocol or a check failed. Stable codes:
 * LINK_MESSAGE_TYPE, OVERSIZE_MESSAGE, MALFORMED_MESSAGE, UNKNOWN_MESSAGE_TYPE,
 * UNEXPECTED_MESSAGE, SESSION_MISMATCH, NOT_ENCRYPTED, REPLAYED_MESSAGE, DECRYPTION_FAILED,
 * BAD_SIGNATURE, WRONG_CARD, NOT_PAIRED, NOT_AUTHENTICATED, USER_MISMATCH, SESSION_EXPIRED,
 * PAIRING_FULL, SESSION_CLOSED.
 */
export class CardProtocolError extends ProtocolError {
  constructor(code: string, phase: CardPhase, message: string, options?: { cause?: unknown }) {
    super(code, phase, message, options);
  }
}

/**
 * The peer answered with the failure form of a message (`valid`/`success`/`confirmed`/`erased`
 * false). `reason` is the peer's code (e.g. "NOT_PAIRED"), untrusted before the session key.
 */
export class CardRefusedError extends CardProtocolError {
  readonly reason: string;

  constructor(phase: CardPhase, reason: string) {
    super("CARD_REFUSED", phase, `peer refused in phase ${phase}: ${reason || "no reason given"}`);
    this.reason = reason;
  }
}

/**
 * A QR code could not be used. Codes: QR_NOT_FOUND (no code in the image), QR_IMAGE_INVALID,
 * QR_MALFORMED (not the seed's JSON, or a bad field), QR_STALE (timestamp outside the window).
 */
export class QrCodeError extends PairkitError {}
