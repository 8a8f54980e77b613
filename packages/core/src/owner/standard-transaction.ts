import { toHex, wipe } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import type { Link } from "../ports/link.ts";
import { verifyVehicleCertificateChain } from "./certificates.ts";
import {
  OWNER_PROTOCOL_VERSION,
  OwnerErrorCode,
  OwnerFrameType,
  OwnerPhase,
  OwnerTimeouts,
} from "./constants.ts";
import { OwnerProtocolError, toOwnerProtocolError } from "./errors.ts";
import { Deadline, OwnerMessenger } from "./messenger.ts";
import { owedAttestations, settleAttestation } from "./owed-attestation.ts";
import type { Keychain, SecureElement } from "./ports.ts";
import {
  deriveTransactionKeys,
  openTransactionMessage,
  sealTransactionMessage,
  type TransactionBinding,
  transactionSignedData,
} from "./transaction-crypto.ts";
import {
  decodeTxnAuth0,
  decodeTxnAuth1,
  decodeTxnResult,
  encodeTxnAuth0Response,
  encodeTxnAuth1Response,
  encodeTxnStart,
  TXN_STATUS_UNLOCKED,
} from "./transaction-messages.ts";

export interface StandardTransactionOptions {
  readonly link: Link;
  readonly crypto: Crypto;
  readonly secureElement: SecureElement;
  /** The paired key to use (PairedKey.keyId). */
  readonly keyId: Uint8Array;
  /** Carmaker CA certificates (DER); the vehicle certificate stored at pairing is re-checked against them. */
  readonly trustAnchors: readonly Uint8Array[];
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  /**
   * The app's keychain: with it, an attestation owed since pairing and fetched since
   * (`fetchOwedAttestations`) rides along in TXN_AUTH1_RESPONSE and the debt is settled on success.
   */
  readonly keychain?: Keychain;
}

export type StandardTransactionResult =
  | { readonly ok: true; readonly transactionId: string }
  | { readonly ok: false; readonly error: OwnerProtocolError };

/**
 * The phone side of the standard transaction (DESIGN.md; CCC AUTH0/AUTH1 shape):
 * TXN_START → AUTH0 (vehicle ephemeral key, transaction id) → AUTH0_RESPONSE (device ephemeral
 * key) → AUTH1 (vehicle signature, sealed) → AUTH1_RESPONSE (endpoint signature, sealed) → RESULT.
 */
export async function runStandardTransaction(
  options: StandardTransactionOptions,
): Promise<StandardTransactionResult> {
  const { link, crypto, secureElement: se, keyId, signal } = options;
  const clock = options.clock ?? systemClock;
  const m = new OwnerMessenger(link, clock);
  const phase = OwnerPhase.TRANSACTION;
  let ephemeral: { privateKey: Uint8Array } | undefined;
  let keys: { vehicleToDevice: Uint8Array; deviceToVehicle: Uint8Array } | undefined;
  try {
    const endpoint = await se.getEndpoint(keyId);
    if (!endpoint?.vehicleId || !endpoint.vehicleCertificateChain)
      throw new OwnerProtocolError(
        phase,
        OwnerErrorCode.UNKNOWN_ENDPOINT,
        "no paired endpoint with this key id",
      );
    const vehiclePublicKey = verifyVehicleCertificateChain(crypto, {
      chain: endpoint.vehicleCertificateChain,
      trustAnchors: options.trustAnchors,
      vehicleId: endpoint.vehicleId,
      now: clock.now(),
    });
    const deadline = new Deadline(clock, 4 * OwnerTimeouts.response, "standard transaction");

    await m.send(OwnerFrameType.TXN_START, encodeTxnStart({ version: OWNER_PROTOCOL_VERSION }), signal);
    const auth0 = decodeTxnAuth0(await m.receive(OwnerFrameType.TXN_AUTH0, phase, deadline, signal));
    const eph = crypto.generateKeyPair();
    ephemeral = eph;
    const binding: TransactionBinding = {
      vehicleEphemeralPublicKey: auth0.vehicleEphemeralPublicKey,
      deviceEphemeralPublicKey: eph.publicKey,
      transactionId: auth0.transactionId,
      vehicleId: endpoint.vehicleId,
    };
    const shared = crypto.ecdh(eph.privateKey, auth0.vehicleEphemeralPublicKey);
    keys = deriveTransactionKeys(crypto, shared, binding);
    wipe(shared);
    await m.send(
      OwnerFrameType.TXN_AUTH0_RESPONSE,
      encodeTxnAuth0Response({ deviceEphemeralPublicKey: eph.publicKey }),
      signal,
    );

    const sealedAuth1 = await m.receive(OwnerFrameType.TXN_AUTH1, phase, deadline, signal);
    const auth1 = decodeTxnAuth1(
      openTransactionMessage(crypto, keys.vehicleToDevice, 1, OwnerFrameType.TXN_AUTH1, sealedAuth1),
    );
    let vehicleOk = false;
    try {
      vehicleOk = crypto.ecdsaVerify(
        vehiclePublicKey,
        transactionSignedData("vehicle", binding),
        auth1.vehicleSignature,
      );
    } catch {
      vehicleOk = false;
    }
    if (!vehicleOk)
      throw new OwnerProtocolError(
        phase,
        OwnerErrorCode.SIGNATURE_INVALID,
        "vehicle signature does not verify",
      );

    const endpointSignature = await se.sign(keyId, transactionSignedData("device", binding));
    const delivering = options.keychain
      ? (await owedAttestations(options.keychain)).some((o) => o.fetched && o.keyId === toHex(keyId)) &&
        endpoint.keyAttestation !== undefined
      : false;
    const auth1Response = encodeTxnAuth1Response({
      keyId,
      endpointSignature,
      ...(delivering && { keyAttestation: endpoint.keyAttestation }),
    });
    await m.send(
      OwnerFrameType.TXN_AUTH1_RESPONSE,
      sealTransactionMessage(
        crypto,
        keys.deviceToVehicle,
        1,
        OwnerFrameType.TXN_AUTH1_RESPONSE,
        auth1Response,
      ),
      signal,
    );
    const sealedResult = await m.receive(OwnerFrameType.TXN_RESULT, phase, deadline, signal);
    const result = decodeTxnResult(
      openTransactionMessage(crypto, keys.vehicleToDevice, 2, OwnerFrameType.TXN_RESULT, sealedResult),
    );
    if (result.status !== TXN_STATUS_UNLOCKED)
      throw new OwnerProtocolError(phase, OwnerErrorCode.MALFORMED_MESSAGE, "unknown transaction status");
    // The vehicle checks a delivered attestation before it unlocks: success means it holds it.
    if (delivering && options.keychain) await settleAttestation(options.keychain, keyId);
    return { ok: true, transactionId: toHex(auth0.transactionId) };
  } catch (error) {
    const failure = toOwnerProtocolError(error, phase);
    await m.reportError(failure);
    return { ok: false, error: failure };
  } finally {
    wipe(ephemeral?.privateKey, keys?.vehicleToDevice, keys?.deviceToVehicle);
    await link.close();
  }
}
