import { concatBytes, expectLength, utf8 } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { POINT_LENGTH } from "../crypto/p256.ts";
import { OwnerLabel } from "./constants.ts";
import { TRANSACTION_ID_LENGTH } from "./transaction-messages.ts";

/** Keys of one standard transaction, one per direction, fresh from the ephemeral ECDH. */
export interface TransactionKeys {
  readonly vehicleToDevice: Uint8Array;
  readonly deviceToVehicle: Uint8Array;
}

export interface TransactionBinding {
  readonly vehicleEphemeralPublicKey: Uint8Array;
  readonly deviceEphemeralPublicKey: Uint8Array;
  readonly transactionId: Uint8Array;
  readonly vehicleId: string;
}

/** HKDF-SHA256(ikm = ECDH x, salt = transactionId, info = label ‖ vehicleEph ‖ deviceEph, 64). */
export function deriveTransactionKeys(
  crypto: Crypto,
  sharedSecret: Uint8Array,
  b: TransactionBinding,
): TransactionKeys {
  const okm = crypto.hkdfSha256(
    expectLength(sharedSecret, 32, "ECDH shared secret"),
    expectLength(b.transactionId, TRANSACTION_ID_LENGTH, "transactionId"),
    concatBytes(
      utf8(OwnerLabel.txnKeys),
      expectLength(b.vehicleEphemeralPublicKey, POINT_LENGTH, "vehicle ephemeral key"),
      expectLength(b.deviceEphemeralPublicKey, POINT_LENGTH, "device ephemeral key"),
    ),
    64,
  );
  return { vehicleToDevice: okm.slice(0, 32), deviceToVehicle: okm.slice(32, 64) };
}

/**
 * What each side signs: role label ‖ vehicleEph ‖ deviceEph ‖ transactionId ‖ vehicleId.
 * Distinct labels per role so that no signature of one side verifies as the other's.
 */
export function transactionSignedData(role: "vehicle" | "device", b: TransactionBinding): Uint8Array {
  return concatBytes(
    utf8(role === "vehicle" ? OwnerLabel.txnVehicleSignature : OwnerLabel.txnDeviceSignature),
    b.vehicleEphemeralPublicKey,
    b.deviceEphemeralPublicKey,
    b.transactionId,
    utf8(b.vehicleId),
  );
}

/**
 * AES-256-GCM under a per-direction key that lives for one transaction: nonce = 11 zero bytes ‖
 * message counter (1, 2, …), AAD = the frame type. Each key seals at most two messages.
 */
export function sealTransactionMessage(
  crypto: Crypto,
  key: Uint8Array,
  counter: number,
  frameType: number,
  plaintext: Uint8Array,
): Uint8Array {
  return crypto.aesGcmEncrypt(key, transactionNonce(counter), plaintext, Uint8Array.of(frameType));
}

export function openTransactionMessage(
  crypto: Crypto,
  key: Uint8Array,
  counter: number,
  frameType: number,
  sealed: Uint8Array,
): Uint8Array {
  return crypto.aesGcmDecrypt(key, transactionNonce(counter), sealed, Uint8Array.of(frameType));
}

function transactionNonce(counter: number): Uint8Array {
  const nonce = new Uint8Array(12);
  nonce[11] = counter;
  return nonce;
}
