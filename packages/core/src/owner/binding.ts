import { concatBytes, expectLength, utf8 } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { POINT_LENGTH } from "../crypto/p256.ts";
import { KEY_ID_LENGTH, NONCE_LENGTH, OwnerLabel } from "./constants.ts";

/**
 * SPAKE2+ Context (DESIGN.md): fixed label ‖ SELECT response bytes ‖ vehicleNonce ‖ deviceNonce.
 * Binding the SELECT response stops a man in the middle from downgrading the negotiated version.
 */
export function spake2Context(
  selectResponse: Uint8Array,
  vehicleNonce: Uint8Array,
  deviceNonce: Uint8Array,
): Uint8Array {
  return concatBytes(
    utf8(OwnerLabel.spake2Context),
    selectResponse,
    expectLength(vehicleNonce, NONCE_LENGTH, "vehicleNonce"),
    expectLength(deviceNonce, NONCE_LENGTH, "deviceNonce"),
  );
}

/** Key id (= ENDPOINT_READY.endpointIdHash): SHA-256(endpoint public key)[0:16]. */
export function endpointKeyId(crypto: Crypto, publicKey: Uint8Array): Uint8Array {
  return crypto.sha256(expectLength(publicKey, POINT_LENGTH, "endpoint public key")).slice(0, KEY_ID_LENGTH);
}

/** Four bytes: the advertising hint of docs/protocol.md §2.1 holds at most 4. */
export const ADVERTISEMENT_HASH_LENGTH = 4;

/**
 * What the vehicle advertises in its manufacturer data so a phone picks the right car among
 * several without the vehicle id on air: SHA-256(label ‖ vehicleId)[0:4], the advertising hint.
 */
export function vehicleAdvertisementHash(crypto: Crypto, vehicleId: string): Uint8Array {
  return crypto
    .sha256(concatBytes(utf8(OwnerLabel.advertisement), utf8(vehicleId)))
    .slice(0, ADVERTISEMENT_HASH_LENGTH);
}
