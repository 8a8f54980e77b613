import {
  APPLET_VERSION,
  CAPABILITY_BLE,
  ControlFlow,
  computePolicyDigest,
  constantTimeEqual,
  Deadline,
  decodeDeviceConfigAck,
  decodeEndpointReady,
  decodePoint,
  decodeSelectCommand,
  decodeSigBitmapUpdate,
  decodeSpake2Response,
  decodeSpake2VerifyResponse,
  deriveOwnerPairingKeys,
  encodeDeviceConfig,
  encodeDeviceConfigBody,
  encodeEndpointReadyBody,
  encodeMailbox,
  encodeOpControlFlow,
  encodeSelectResponse,
  encodeSigBitmapUpdateBody,
  encodeSpake2Request,
  encodeSpake2Verify,
  endpointKeyId,
  endpointReceiptInput,
  MAX_AUTHORIZED_KEYS,
  OWNER_PROTOCOL_VERSION,
  OwnerErrorCode,
  OwnerFrameType,
  type OwnerMessenger,
  type OwnerPairingKeys,
  OwnerPhase,
  OwnerProtocolError,
  OwnerTimeouts,
  PAIRING_MODE_OWNER_PASSWORD,
  SIGNALING_KEY_ATTESTED,
  Spake2PlusVerifier,
  signalingReceiptInput,
  spake2Context,
  TimeoutError,
  TransportError,
  toOwnerProtocolError,
  utf8,
  wipe,
  wipeOwnerPairingKeys,
} from "@pairkit/core";
import type { VehicleSessionOutcome, VehicleSimulator } from "./vehicle.ts";

const ATTESTATION_WAIT_MS = 10_000;

/**
 * One owner pairing on the vehicle, from SELECT to SIG_BITMAP_UPDATE. Linear like the phone
 * side; the only state that outlives it is in the verifier store (attempts) and the endpoint store.
 */
export class VehiclePairingSession {
  #phase: OwnerPhase = OwnerPhase.SPAKE2;
  #chargedSession: string | undefined;
  #remaining = 0;
  #paired = false;
  #verifier: Spake2PlusVerifier | undefined;
  #keys: OwnerPairingKeys | undefined;

  constructor(
    private readonly vehicle: VehicleSimulator,
    private readonly m: OwnerMessenger,
  ) {}

  async run(selectPayload: Uint8Array): Promise<VehicleSessionOutcome> {
    try {
      return await this.#pair(selectPayload);
    } catch (error) {
      const failure = toOwnerProtocolError(error, this.#phase);
      const outcome = this.#paired ? failure : this.#chargeFailure(failure);
      await this.m.reportError(outcome);
      return { kind: "failed", error: outcome };
    } finally {
      this.#verifier?.destroy();
      if (this.#keys) wipeOwnerPairingKeys(this.#keys);
      await this.m.hangUp();
    }
  }

  #error(code: number, message: string, retryAllowed = false): OwnerProtocolError {
    return new OwnerProtocolError(this.#phase, code, message, { retryAllowed });
  }

  /** The attempt was already spent at SPAKE2_RESPONSE; report it, and the lock when it was the last. */
  #chargeFailure(failure: OwnerProtocolError): OwnerProtocolError {
    const sessionId = this.#chargedSession;
    if (sessionId === undefined) return failure;
    this.vehicle.emit({
      type: "attempt-failed",
      sessionId,
      remainingAttempts: this.#remaining,
      code: failure.code,
    });
    if (this.#remaining === 0) this.vehicle.emit({ type: "locked", sessionId });
    if (failure.fromPeer || !failure.retryAllowed || this.#remaining > 0) return failure;
    return new OwnerProtocolError(failure.phaseNumber, failure.wireCode, failure.message, {
      cause: failure.cause,
    });
  }

  async #pair(selectPayload: Uint8Array): Promise<VehicleSessionOutcome> {
    const { crypto, clock, identity, verifiers } = this.vehicle;
    const options = this.vehicle.options;
    const m = this.m;

    // SELECT: refuse before spending anything when there is nothing to pair against.
    const spake2Deadline = new Deadline(clock, OwnerTimeouts.spake2, "SPAKE2+ sequence");
    const select = decodeSelectCommand(selectPayload);
    if (
      select.protocolVersion !== OWNER_PROTOCOL_VERSION ||
      select.pairingMode !== PAIRING_MODE_OWNER_PASSWORD
    )
      throw this.#error(OwnerErrorCode.UNSUPPORTED_VERSION, "unsupported version or pairing mode");
    const active = verifiers.current();
    if (!active) throw this.#error(OwnerErrorCode.NO_PAIRING_SESSION, "no pairing session provisioned");
    if (clock.now() >= active.record.expiresAt)
      throw this.#error(OwnerErrorCode.VERIFIER_EXPIRED, "pairing password expired");
    if (active.remainingAttempts === 0)
      throw this.#error(OwnerErrorCode.ATTEMPTS_EXHAUSTED, "verifier locked");
    // The new key must fit DEVICE_CONFIG's authorized key list afterwards: refuse now, not midway.
    if (this.vehicle.endpoints.list().length >= MAX_AUTHORIZED_KEYS)
      throw this.#error(OwnerErrorCode.KEY_SLOTS_FULL, "no free key slot");
    const sessionId = active.record.sessionId;
    const selectResponse = encodeSelectResponse({
      appletVersionMajor: APPLET_VERSION.major,
      appletVersionMinor: APPLET_VERSION.minor,
      protocolVersion: OWNER_PROTOCOL_VERSION,
      pairingMode: PAIRING_MODE_OWNER_PASSWORD,
      capabilities: Uint8Array.of(CAPABILITY_BLE),
    });
    await m.send(OwnerFrameType.SELECT, selectResponse);

    // SPAKE2+
    const vehicleNonce = crypto.randomBytes(16);
    await m.send(
      OwnerFrameType.SPAKE2_REQUEST,
      encodeSpake2Request({
        version: OWNER_PROTOCOL_VERSION,
        attemptRemaining: active.remainingAttempts,
        salt: active.record.salt,
        scrypt: active.record.scrypt,
        vehicleNonce,
      }),
    );
    const response = decodeSpake2Response(
      await m.receive(OwnerFrameType.SPAKE2_RESPONSE, OwnerPhase.SPAKE2, spake2Deadline),
    );
    // The attempt is spent now, before any work that depends on the password: whatever happens
    // next (wrong password, tampering, silence, disconnect) it stays spent.
    const remaining = verifiers.charge(sessionId);
    if (remaining === undefined)
      throw this.#error(OwnerErrorCode.ATTEMPTS_EXHAUSTED, "verifier locked or replaced");
    this.#chargedSession = sessionId;
    this.#remaining = remaining;
    const verifier = new Spake2PlusVerifier(
      crypto,
      {
        profile: "rfc9383",
        context: spake2Context(selectResponse, vehicleNonce, response.deviceNonce),
        idProver: select.deviceId,
        idVerifier: utf8(identity.vehicleId),
      },
      active.prepared,
    );
    this.#verifier = verifier;
    const { shareV, confirmV } = verifier.receiveShareP(response.pointX);
    const vehicleEntropy = crypto.randomBytes(16);
    await m.send(
      OwnerFrameType.SPAKE2_VERIFY,
      encodeSpake2Verify({
        pointY: shareV,
        evidence: confirmV,
        policyFlags: options.policyFlags,
        vehicleEntropy,
      }),
    );
    const verifyResponse = decodeSpake2VerifyResponse(
      await m.receive(OwnerFrameType.SPAKE2_VERIFY_RESPONSE, OwnerPhase.SPAKE2, spake2Deadline),
    );
    const sharedKey = verifier.verifyConfirmP(verifyResponse.evidence);
    const keys = deriveOwnerPairingKeys(crypto, "rfc9383", sharedKey);
    wipe(sharedKey);
    this.#keys = keys;
    m.link.secure(keys.kenc);

    // Configuration
    this.#phase = OwnerPhase.CONFIG;
    const configDeadline = new Deadline(clock, OwnerTimeouts.config, "configuration transfer");
    const config = {
      vehicleId: utf8(identity.vehicleId),
      descriptor: this.vehicle.descriptorBytes,
      mailbox: encodeMailbox(options.mailbox),
      authorizedKeys: this.vehicle.endpoints
        .list()
        .map((e) => ({ keyId: e.keyId, publicKey: e.publicKey, roleFlags: 0x01 })),
    };
    const binding = { policyFlags: options.policyFlags, vehicleEntropy };
    const policyDigest = computePolicyDigest(crypto, keys.kmac, binding, encodeDeviceConfigBody(config));
    const configPayload = encodeDeviceConfig({ ...config, policyDigest });
    await m.send(OwnerFrameType.DEVICE_CONFIG, configPayload);
    const ack = decodeDeviceConfigAck(
      await m.receive(OwnerFrameType.DEVICE_CONFIG_ACK, OwnerPhase.CONFIG, configDeadline),
    );
    const configDigest = crypto.sha256(configPayload);
    if (!constantTimeEqual(ack.configDigest, configDigest))
      throw this.#error(
        OwnerErrorCode.CONFIG_DIGEST_MISMATCH,
        "device acknowledged a different configuration",
        true,
      );

    // Endpoint
    this.#phase = OwnerPhase.ENDPOINT;
    const ready = decodeEndpointReady(
      await m.receive(OwnerFrameType.ENDPOINT_READY, OwnerPhase.ENDPOINT, configDeadline),
    );
    const readyBody = encodeEndpointReadyBody(ready);
    const expectedReceipt = crypto.hmacSha256(keys.krmac, endpointReceiptInput(readyBody, configDigest));
    if (!constantTimeEqual(expectedReceipt, ready.receiptMac))
      throw this.#error(OwnerErrorCode.RECEIPT_INVALID, "ENDPOINT_READY receipt does not verify", true);
    if (ready.seStatus !== 0)
      throw this.#error(OwnerErrorCode.ENDPOINT_FAILED, `secure element status ${ready.seStatus}`, true);
    decodePoint(ready.endpointPublicKey, "endpoint public key");
    const keyId = endpointKeyId(crypto, ready.endpointPublicKey);
    if (!constantTimeEqual(keyId, ready.endpointIdHash))
      throw this.#error(
        OwnerErrorCode.ENDPOINT_FAILED,
        "endpointIdHash does not match the endpoint key",
        true,
      );
    this.vehicle.endpoints.add({
      keyId,
      publicKey: ready.endpointPublicKey,
      sessionId,
      policyFlags: options.policyFlags,
      pairedAt: clock.now(),
    });
    verifiers.consume(sessionId);
    this.#paired = true;
    this.vehicle.emit({ type: "paired", sessionId, keyId, endpointPublicKey: ready.endpointPublicKey });

    // Finalization
    this.#phase = OwnerPhase.FINALIZE;
    await m.send(
      OwnerFrameType.OP_CONTROL_FLOW,
      encodeOpControlFlow({ p1: ControlFlow.END, p2: ControlFlow.SUCCESS }),
    );
    const waitMs = this.vehicle.options.attestationWaitMs ?? ATTESTATION_WAIT_MS;
    const wait = new Deadline(clock, waitMs, "SIG_BITMAP_UPDATE", waitMs);
    let signaling: Uint8Array | undefined;
    try {
      signaling = await m.receive(OwnerFrameType.SIG_BITMAP_UPDATE, OwnerPhase.FINALIZE, wait);
    } catch (error) {
      if (error instanceof OwnerProtocolError && error.fromPeer) {
        // The phone did not keep the key (no OP_CONTROL_FLOW reached it, or the backend refused
        // it) and has erased it: the vehicle forgets it too, so no party holds half a key (§3.7).
        this.vehicle.endpoints.remove(keyId);
        this.vehicle.emit({ type: "discarded", sessionId, keyId });
        return { kind: "failed", error };
      }
      // Silence, a lost link or a broken message: the phone may hold the key, so it stays, unattested.
      if (!(error instanceof TimeoutError || error instanceof TransportError))
        await m.reportError(toOwnerProtocolError(error, OwnerPhase.FINALIZE));
    }
    let attested = false;
    if (signaling)
      try {
        attested = this.#acceptSignaling(keyId, keys.krmac, signaling);
      } catch (error) {
        // A bad receipt or attestation only leaves the key unattested.
        await m.reportError(toOwnerProtocolError(error, OwnerPhase.FINALIZE));
      }
    return { kind: "paired", keyId, attested };
  }

  /** SIG_BITMAP_UPDATE: the receipt, then the KTS attestation when the phone says it has one. */
  #acceptSignaling(keyId: Uint8Array, krmac: Uint8Array, payload: Uint8Array): boolean {
    const { crypto } = this.vehicle;
    const update = decodeSigBitmapUpdate(payload);
    const expected = crypto.hmacSha256(
      krmac,
      signalingReceiptInput(encodeSigBitmapUpdateBody(update), keyId),
    );
    if (!constantTimeEqual(expected, update.receiptMac))
      throw this.#error(OwnerErrorCode.RECEIPT_INVALID, "SIG_BITMAP_UPDATE receipt does not verify");
    if (!(update.signalingBitmap & SIGNALING_KEY_ATTESTED)) return false;
    if (!this.vehicle.acceptAttestation(keyId, update.keyAttestation))
      throw this.#error(OwnerErrorCode.ATTESTATION_INVALID, "key attestation does not verify");
    return true;
  }
}
