import { concatBytes, expectLength, utf8 } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { POINT_LENGTH } from "../crypto/p256.ts";
import { ADVERTISEMENT_HASH_LENGTH } from "../owner/binding.ts";

export const CARD_ADVERTISEMENT_LABEL = "pairkit/active-card/v1/advertisement";

/**
 * What a card advertises in its manufacturer data (docs/protocol.md §2.1) so a phone holding its
 * QR code finds it among several: SHA-256(label ‖ identity public key)[0:4]. The QR code already
 * carries the key, so the phone derives the hint and the QR JSON needs no new field. Four bytes
 * only narrow the search; the challenge (§4.5 step 2) is what proves the card.
 */
export function cardAdvertisementHint(crypto: Crypto, identityPublicKey: Uint8Array): Uint8Array {
  return crypto
    .sha256(
      concatBytes(
        utf8(CARD_ADVERTISEMENT_LABEL),
        expectLength(identityPublicKey, POINT_LENGTH, "card identity public key"),
      ),
    )
    .slice(0, ADVERTISEMENT_HASH_LENGTH);
}
