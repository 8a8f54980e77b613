import { concatBytes, expectLength, utf8, wipe } from "../bytes.ts";
import type { Crypto } from "./crypto.ts";
import { POINT_LENGTH } from "./p256.ts";
import type { Spake2PlusProfile } from "./spake2plus.ts";

/**
 * Owner-pairing session keys, derived from the SPAKE2+ shared key:
 * - rfc9383: Kenc ‖ Kmac ‖ Krmac = HKDF-SHA256(salt = ∅, K_shared, "SystemKeys", 96), 32 bytes each
 *   (AES-256-GCM frames, HMAC-SHA256 policy digest, HMAC-SHA256 device receipts).
 * - ccc: Kenc ‖ Kmac ‖ Krmac ‖ LTSS = HKDF-SHA256(salt = ∅, SK, "SystemKeys", 64), 16 bytes each,
 *   as the CCC reimplementations derive them.
 */
export interface OwnerPairingKeys {
  readonly kenc: Uint8Array;
  readonly kmac: Uint8Array;
  readonly krmac: Uint8Array;
  /** ccc profile only. */
  readonly longTermSharedSecret?: Uint8Array;
}

export function deriveOwnerPairingKeys(
  crypto: Crypto,
  profile: Spake2PlusProfile,
  sharedKey: Uint8Array,
): OwnerPairingKeys {
  const info = utf8("SystemKeys");
  if (profile === "rfc9383") {
    const okm = crypto.hkdfSha256(expectLength(sharedKey, 32, "K_shared"), new Uint8Array(0), info, 96);
    const keys = { kenc: okm.slice(0, 32), kmac: okm.slice(32, 64), krmac: okm.slice(64, 96) };
    wipe(okm);
    return keys;
  }
  const okm = crypto.hkdfSha256(expectLength(sharedKey, 16, "SK"), new Uint8Array(0), info, 64);
  const keys = {
    kenc: okm.slice(0, 16),
    kmac: okm.slice(16, 32),
    krmac: okm.slice(32, 48),
    longTermSharedSecret: okm.slice(48, 64),
  };
  wipe(okm);
  return keys;
}

export function wipeOwnerPairingKeys(keys: OwnerPairingKeys): void {
  wipe(keys.kenc, keys.kmac, keys.krmac, keys.longTermSharedSecret);
}

export const CARD_SESSION_INFO_LABEL = "pairkit/active-card/v1/session";
export const CARD_SESSION_ID_LENGTH = 16;

/**
 * Active Card session key: HKDF-SHA256(salt = session_id, ikm = ECDH x-coordinate,
 * info = "pairkit/active-card/v1/session" ‖ phoneEphemeralPub ‖ cardEphemeralPub, 32).
 * Binding both ephemeral keys into info ties the key to this exact exchange.
 */
export function deriveCardSessionKey(
  crypto: Crypto,
  input: {
    readonly sharedSecret: Uint8Array;
    readonly sessionId: Uint8Array;
    readonly phoneEphemeralPublicKey: Uint8Array;
    readonly cardEphemeralPublicKey: Uint8Array;
  },
): Uint8Array {
  const info = concatBytes(
    utf8(CARD_SESSION_INFO_LABEL),
    expectLength(input.phoneEphemeralPublicKey, POINT_LENGTH, "phone ephemeral public key"),
    expectLength(input.cardEphemeralPublicKey, POINT_LENGTH, "card ephemeral public key"),
  );
  return crypto.hkdfSha256(
    expectLength(input.sharedSecret, 32, "ECDH shared secret"),
    expectLength(input.sessionId, CARD_SESSION_ID_LENGTH, "session_id"),
    info,
    32,
  );
}
