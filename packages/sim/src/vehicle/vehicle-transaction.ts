import {
  Deadline,
  decodeTxnAuth0Response,
  decodeTxnAuth1Response,
  decodeTxnStart,
  deriveTransactionKeys,
  encodeTxnAuth0,
  encodeTxnAuth1,
  encodeTxnResult,
  OWNER_PROTOCOL_VERSION,
  OwnerErrorCode,
  OwnerFrameType,
  type OwnerMessenger,
  OwnerPhase,
  OwnerProtocolError,
  OwnerTimeouts,
  openTransactionMessage,
  PolicyFlag,
  sealTransactionMessage,
  type TransactionBinding,
  TXN_STATUS_UNLOCKED,
  toOwnerProtocolError,
  transactionSignedData,
  wipe,
} from "@pairkit/core";
import type { VehicleSessionOutcome, VehicleSimulator } from "./vehicle.ts";

const phase = OwnerPhase.TRANSACTION;

function deny(code: number, message: string): OwnerProtocolError {
  return new OwnerProtocolError(phase, code, message);
}

/**
 * The vehicle side of the standard transaction (DESIGN.md): fresh ephemeral key and
 * transaction id per attempt, so a recorded answer never fits a later transaction.
 */
export async function runVehicleTransaction(
  vehicle: VehicleSimulator,
  m: OwnerMessenger,
  startPayload: Uint8Array,
): Promise<VehicleSessionOutcome> {
  const { crypto, clock, identity } = vehicle;
  const ephemeral = crypto.generateKeyPair();
  let keys: { vehicleToDevice: Uint8Array; deviceToVehicle: Uint8Array } | undefined;
  try {
    if (decodeTxnStart(startPayload).version !== OWNER_PROTOCOL_VERSION)
      throw deny(OwnerErrorCode.UNSUPPORTED_VERSION, "unsupported transaction version");
    const deadline = new Deadline(clock, 4 * OwnerTimeouts.response, "standard transaction");
    const transactionId = crypto.randomBytes(16);
    await m.send(
      OwnerFrameType.TXN_AUTH0,
      encodeTxnAuth0({ vehicleEphemeralPublicKey: ephemeral.publicKey, transactionId }),
    );
    const auth0Response = decodeTxnAuth0Response(
      await m.receive(OwnerFrameType.TXN_AUTH0_RESPONSE, phase, deadline),
    );
    const binding: TransactionBinding = {
      vehicleEphemeralPublicKey: ephemeral.publicKey,
      deviceEphemeralPublicKey: auth0Response.deviceEphemeralPublicKey,
      transactionId,
      vehicleId: identity.vehicleId,
    };
    const shared = crypto.ecdh(ephemeral.privateKey, auth0Response.deviceEphemeralPublicKey);
    keys = deriveTransactionKeys(crypto, shared, binding);
    wipe(shared);
    const vehicleSignature = crypto.ecdsaSign(
      identity.keyPair.privateKey,
      transactionSignedData("vehicle", binding),
    );
    await m.send(
      OwnerFrameType.TXN_AUTH1,
      sealTransactionMessage(
        crypto,
        keys.vehicleToDevice,
        1,
        OwnerFrameType.TXN_AUTH1,
        encodeTxnAuth1({ vehicleSignature }),
      ),
    );
    const sealed = await m.receive(OwnerFrameType.TXN_AUTH1_RESPONSE, phase, deadline);
    const response = decodeTxnAuth1Response(
      openTransactionMessage(crypto, keys.deviceToVehicle, 1, OwnerFrameType.TXN_AUTH1_RESPONSE, sealed),
    );
    const endpoint = vehicle.endpoints.get(response.keyId);
    if (!endpoint) throw deny(OwnerErrorCode.UNKNOWN_ENDPOINT, "unknown or revoked key");
    let valid = false;
    try {
      valid = crypto.ecdsaVerify(
        endpoint.publicKey,
        transactionSignedData("device", binding),
        response.endpointSignature,
      );
    } catch {
      valid = false;
    }
    if (!valid) throw deny(OwnerErrorCode.SIGNATURE_INVALID, "endpoint signature does not verify");
    // An attestation owed since pairing comes with an authenticated response; a bad one is refused.
    if (response.keyAttestation && !vehicle.acceptAttestation(endpoint.keyId, response.keyAttestation))
      throw deny(OwnerErrorCode.ATTESTATION_INVALID, "key attestation does not verify");
    if (
      endpoint.policyFlags & PolicyFlag.ATTESTATION_REQUIRED &&
      !vehicle.endpoints.get(endpoint.keyId)?.keyAttestation
    )
      throw deny(OwnerErrorCode.ATTESTATION_REQUIRED, "key not attested yet");
    await m.send(
      OwnerFrameType.TXN_RESULT,
      sealTransactionMessage(
        crypto,
        keys.vehicleToDevice,
        2,
        OwnerFrameType.TXN_RESULT,
        encodeTxnResult({ status: TXN_STATUS_UNLOCKED }),
      ),
    );
    vehicle.emit({ type: "unlocked", keyId: endpoint.keyId });
    return { kind: "unlocked", keyId: endpoint.keyId };
  } catch (error) {
    const failure = toOwnerProtocolError(error, phase);
    await m.reportError(failure);
    vehicle.emit({ type: "denied", code: failure.code });
    return { kind: "failed", error: failure };
  } finally {
    wipe(ephemeral.privateKey, keys?.vehicleToDevice, keys?.deviceToVehicle);
    await m.hangUp();
  }
}
