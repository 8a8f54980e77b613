import { concatBytes, expectLength, utf8 } from "../bytes.ts";
import { POINT_LENGTH } from "../crypto/p256.ts";
import { CARD_SESSION_ID_LENGTH } from "../crypto/session-keys.ts";

/**
 * The byte strings the identity keys sign (docs/protocol.md §4.3). Each starts with a
 * label and the signer's role, so a signature made for one purpose or one side is never valid
 * for another, and the signer always mixes in 32 bytes of its own: neither side is ever a raw
 * signing oracle for bytes the peer chose.
 */
export const CardRole = { phone: 0x01, card: 0x02 } as const;
export type CardRole = (typeof CardRole)[keyof typeof CardRole];

export const CARD_NONCE_LENGTH = 32;
export const CHALLENGE_LABEL = "pairkit/active-card/v1/challenge";
export const EPHEMERAL_KEY_LABEL = "pairkit/active-card/v1/ecdh";

/** label ‖ 0x00 ‖ role, the first bytes of every signed message. */
function signedPrefixes(label: string): Record<CardRole, Uint8Array> {
  const text = utf8(label);
  return {
    [CardRole.phone]: concatBytes(text, Uint8Array.of(0x00, CardRole.phone)),
    [CardRole.card]: concatBytes(text, Uint8Array.of(0x00, CardRole.card)),
  };
}

const CHALLENGE_PREFIX = signedPrefixes(CHALLENGE_LABEL);
const EPHEMERAL_KEY_PREFIX = signedPrefixes(EPHEMERAL_KEY_LABEL);

/**
 * Challenge response: label ‖ 0x00 ‖ role ‖ session_id (16) ‖ verifier nonce (32) ‖
 * signer nonce (32) — 114 bytes.
 */
export function challengeMessage(input: {
  readonly signer: CardRole;
  readonly sessionId: Uint8Array;
  readonly verifierNonce: Uint8Array;
  readonly signerNonce: Uint8Array;
}): Uint8Array {
  return concatBytes(
    CHALLENGE_PREFIX[input.signer],
    expectLength(input.sessionId, CARD_SESSION_ID_LENGTH, "session_id"),
    expectLength(input.verifierNonce, CARD_NONCE_LENGTH, "verifier nonce"),
    expectLength(input.signerNonce, CARD_NONCE_LENGTH, "signer nonce"),
  );
}

/**
 * Ephemeral ECDH key: label ‖ 0x00 ‖ role ‖ session_id (16) ‖ phone challenge nonce (32) ‖
 * card challenge nonce (32) ‖ ephemeral public key (65) — 174 bytes. Both verifier nonces tie
 * the key to this session's challenges, so an old signed key cannot be replayed.
 */
export function ephemeralKeyMessage(input: {
  readonly signer: CardRole;
  readonly sessionId: Uint8Array;
  readonly phoneNonce: Uint8Array;
  readonly cardNonce: Uint8Array;
  readonly ephemeralPublicKey: Uint8Array;
}): Uint8Array {
  return concatBytes(
    EPHEMERAL_KEY_PREFIX[input.signer],
    expectLength(input.sessionId, CARD_SESSION_ID_LENGTH, "session_id"),
    expectLength(input.phoneNonce, CARD_NONCE_LENGTH, "phone challenge nonce"),
    expectLength(input.cardNonce, CARD_NONCE_LENGTH, "card challenge nonce"),
    expectLength(input.ephemeralPublicKey, POINT_LENGTH, "ephemeral public key"),
  );
}
