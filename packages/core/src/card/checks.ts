import { utf8 } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { decodePoint } from "../crypto/p256.ts";
import { SignatureEncodingError } from "../errors.ts";
import { type CardPhase, CardProtocolError } from "./errors.ts";
import { CARD_NONCE_LENGTH } from "./signed-messages.ts";

/** Field checks both sides apply to what the peer sent; each failure is a typed error. */

export const MAX_USER_ID_BYTES = 256;
/** DER of a P-256 signature is at most 72 bytes (two 33-byte INTEGERs and headers). */
const MAX_DER_SIGNATURE_LENGTH = 72;

export function checkNonce(bytes: Uint8Array, phase: CardPhase, what: string): Uint8Array {
  if (bytes.length !== CARD_NONCE_LENGTH) {
    throw new CardProtocolError(
      "MALFORMED_MESSAGE",
      phase,
      `${what}: expected 32 bytes, got ${bytes.length}`,
    );
  }
  return bytes;
}

export function checkPublicKey(bytes: Uint8Array, phase: CardPhase, what: string): Uint8Array {
  try {
    decodePoint(bytes, what);
  } catch (cause) {
    throw new CardProtocolError("MALFORMED_MESSAGE", phase, `${what}: not a P-256 public key`, { cause });
  }
  return bytes;
}

export function checkSource(source: string, expected: "mobile" | "firmware", phase: CardPhase): void {
  if (source !== expected) {
    throw new CardProtocolError("MALFORMED_MESSAGE", phase, `source must be "${expected}"`);
  }
}

export function checkEmpty(body: Uint8Array, phase: CardPhase, what: string): void {
  if (body.length !== 0) throw new CardProtocolError("MALFORMED_MESSAGE", phase, `${what} has a payload`);
}

/**
 * Verifies a peer's DER signature; a badly encoded one is as bad as a wrong one (fail closed),
 * both throw `code` (BAD_SIGNATURE, or WRONG_CARD when the key came from the QR code).
 */
export function verifyPeerSignature(
  crypto: Crypto,
  input: { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array },
  phase: CardPhase,
  code: "BAD_SIGNATURE" | "WRONG_CARD" = "BAD_SIGNATURE",
): void {
  let valid = false;
  let cause: unknown;
  if (input.signature.length <= MAX_DER_SIGNATURE_LENGTH) {
    try {
      valid = crypto.ecdsaVerify(input.publicKey, input.message, input.signature);
    } catch (error) {
      if (!(error instanceof SignatureEncodingError)) throw error;
      cause = error;
    }
  }
  if (!valid) throw new CardProtocolError(code, phase, "peer signature does not verify", { cause });
}

const BYTE_ORDER_MARK = "\uFEFF";

export function encodeUserId(userId: string): Uint8Array {
  const bytes = utf8(userId);
  checkUserIdLength(bytes);
  if (userId.startsWith(BYTE_ORDER_MARK)) throw userIdWithBom();
  return bytes;
}

// Stateless between calls: decode() without { stream: true } starts afresh each time. A leading
// BOM is kept (ignoreBOM) so that it can be refused: stripping it would make EF BB BF ‖ "alice"
// the same user as "alice", and EF BB BF alone an empty id.
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function decodeUserId(bytes: Uint8Array): string {
  checkUserIdLength(bytes);
  let userId: string;
  try {
    userId = STRICT_UTF8.decode(bytes);
  } catch (cause) {
    throw new CardProtocolError("MALFORMED_MESSAGE", "binding", "user id is not UTF-8", { cause });
  }
  if (userId.startsWith(BYTE_ORDER_MARK)) throw userIdWithBom();
  return userId;
}

function checkUserIdLength(bytes: Uint8Array): void {
  if (bytes.length === 0 || bytes.length > MAX_USER_ID_BYTES) {
    throw new CardProtocolError(
      "MALFORMED_MESSAGE",
      "binding",
      `user id must be 1–${MAX_USER_ID_BYTES} bytes`,
    );
  }
}

function userIdWithBom(): CardProtocolError {
  return new CardProtocolError("MALFORMED_MESSAGE", "binding", "user id starts with a byte-order mark");
}
