import { constantTimeEqual, toHex, utf8, wipe } from "../bytes.ts";
import type { Crypto, ScryptParams } from "../crypto/crypto.ts";
import { checkScryptParams, derivePasswordScalars } from "../crypto/password.ts";
import {
  deriveOwnerPairingKeys,
  type OwnerPairingKeys,
  wipeOwnerPairingKeys,
} from "../crypto/session-keys.ts";
import { prepareProver, Spake2PlusProver } from "../crypto/spake2plus.ts";
import { TransportError } from "../errors.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import { FrameError } from "../ports/frame-error.ts";
import type { Link } from "../ports/link.ts";
import { backoffDelayMs, isTransientApiError, sleep } from "./api-retry.ts";
import { spake2Context } from "./binding.ts";
import { verifyVehicleCertificateChain } from "./certificates.ts";
import {
  CAPABILITY_BLE,
  ControlFlow,
  OWNER_PROTOCOL_VERSION,
  OwnerErrorCode,
  OwnerFrameType,
  OwnerPhase,
  type OwnerPhaseName,
  OwnerTimeouts,
  PAIRING_MODE_OWNER_PASSWORD,
  POLICY_FLAGS_KNOWN,
} from "./constants.ts";
import { decodeDescriptor, type VehicleDescriptor } from "./descriptor.ts";
import { decodeDeviceConfig, verifyPolicyDigest } from "./device-config.ts";
import {
  decodeOpControlFlow,
  encodeDeviceConfigAck,
  encodeEndpointReady,
  encodeEndpointReadyBody,
  encodeSigBitmapUpdate,
  encodeSigBitmapUpdateBody,
  endpointReceiptInput,
  SIGNALING_KEY_ATTESTED,
  signalingReceiptInput,
} from "./endpoint-messages.ts";
import { ApiError, OwnerProtocolError, SecureElementError, toOwnerProtocolError } from "./errors.ts";
import {
  attestationNamesEndpoint,
  encodeKeyAttestation,
  type KeyAttestation,
  verifyKeyAttestation,
} from "./key-attestation.ts";
import { decodeMailbox } from "./mailbox.ts";
import { Deadline, OwnerMessenger, throwIfAborted } from "./messenger.ts";
import { oweAttestation } from "./owed-attestation.ts";
import {
  type Keychain,
  KeychainItem,
  type PairingApi,
  type PairingLog,
  type PairingLogPhase,
  type SecureElement,
} from "./ports.ts";
import {
  decodeSelectResponse,
  decodeSpake2Request,
  decodeSpake2Verify,
  encodeSelectCommand,
  encodeSpake2Response,
  encodeSpake2VerifyResponse,
} from "./spake2-messages.ts";

/** What the app got from `POST /pairing/password/request` (seed 001 §4). */
export interface OwnerPairingBootstrap {
  readonly sessionId: string;
  readonly password: string;
  readonly scrypt: ScryptParams;
  readonly vehicleId: string;
}

export interface OwnerPairingProgress {
  readonly phase: PairingLogPhase;
}

export interface OwnerPairingOptions {
  readonly link: Link;
  readonly crypto: Crypto;
  readonly bootstrap: OwnerPairingBootstrap;
  /** This device's id (SPAKE2+ idProver), 1–64 bytes, stable per installation. */
  readonly deviceId: Uint8Array;
  /** Carmaker CA certificates (DER) the vehicle's certificate must chain to. */
  readonly trustAnchors: readonly Uint8Array[];
  readonly secureElement: SecureElement;
  readonly keychain: Keychain;
  readonly log: PairingLog;
  readonly api: PairingApi;
  /** When set, the KTS attestation must verify under this key before it is stored. */
  readonly ktsPublicKey?: Uint8Array;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: OwnerPairingProgress) => void;
}

export interface PairedKey {
  readonly keyId: Uint8Array;
  readonly endpointPublicKey: Uint8Array;
  readonly vehicleId: string;
  readonly vehiclePublicKey: Uint8Array;
  readonly descriptor: VehicleDescriptor;
  readonly policyFlags: number;
  readonly transactionId: string;
  /** False when the KTS could not be reached: the key works, the attestation is still owed. */
  readonly attested: boolean;
}

export interface OwnerPairingFailure {
  /** "connect": the vehicle was not found or the connection failed (`pairOwnerVehicle`). */
  readonly phase: OwnerPhaseName | "connect";
  /** Stable error code (docs/protocol.md §3.9 names, or a PairingApi / secure element code). */
  readonly code: string;
  readonly message: string;
  readonly retryAllowed: boolean;
  /** Attempts the vehicle has left, when known (it says so in SPAKE2_REQUEST). */
  readonly remainingAttempts: number | undefined;
  readonly fromVehicle: boolean;
  readonly cause?: unknown;
}

export type OwnerPairingResult =
  | { readonly ok: true; readonly key: PairedKey }
  | { readonly ok: false; readonly error: OwnerPairingFailure };

/**
 * The phone side of owner pairing (seed 001 phases 2–4) over any `Link`:
 * SELECT → SPAKE2+ (rfc9383) → DEVICE_CONFIG / ACK → endpoint → OP_CONTROL_FLOW → SIG_BITMAP_UPDATE.
 * Never throws for protocol, peer or transport failures: they end in `{ ok: false }` after the
 * vehicle has been told (ERROR frame) and anything half-created has been erased.
 */
export async function runOwnerPairing(options: OwnerPairingOptions): Promise<OwnerPairingResult> {
  const run = new PhoneOwnerPairing(options);
  try {
    return { ok: true, key: await run.pair() };
  } catch (error) {
    return { ok: false, error: await run.fail(error) };
  } finally {
    run.destroy();
    await options.link.close();
  }
}

/**
 * Tries of `config/confirm` and the waits between them. All of it fits well inside the vehicle's
 * 10 s wait for SIG_BITMAP_UPDATE (docs/protocol.md §3.2), which also has to hold the KTS call.
 */
const CONFIRM_ATTEMPTS = 3;
const CONFIRM_BACKOFF = { initialDelayMs: 250, maxDelayMs: 1_000, random: Math.random };

class PhoneOwnerPairing {
  readonly #o: OwnerPairingOptions;
  readonly #crypto: Crypto;
  readonly #clock: Clock;
  readonly #messenger: OwnerMessenger;
  #phase: OwnerPhase = OwnerPhase.SPAKE2;
  #logPhase: PairingLogPhase = "select";
  #remainingAttempts: number | undefined;
  #prover: Spake2PlusProver | undefined;
  #keys: OwnerPairingKeys | undefined;
  #createdKeyId: Uint8Array | undefined;
  #paired = false;

  constructor(options: OwnerPairingOptions) {
    this.#o = options;
    this.#crypto = options.crypto;
    this.#clock = options.clock ?? systemClock;
    this.#messenger = new OwnerMessenger(options.link, this.#clock);
  }

  async #enter(phase: PairingLogPhase, wirePhase: OwnerPhase): Promise<void> {
    throwIfAborted(this.#o.signal);
    this.#logPhase = phase;
    this.#phase = wirePhase;
    await this.#o.log.append({ timestamp: this.#clock.now(), phase, result: "started" });
    this.#o.onProgress?.({ phase });
  }

  async pair(): Promise<PairedKey> {
    const { bootstrap, signal, secureElement: se, keychain, api } = this.#o;
    const m = this.#messenger;
    const crypto = this.#crypto;

    // SELECT
    await this.#enter("select", OwnerPhase.SPAKE2);
    const spake2Deadline = new Deadline(this.#clock, OwnerTimeouts.spake2, "SPAKE2+ sequence");
    await m.send(
      OwnerFrameType.SELECT,
      encodeSelectCommand({
        protocolVersion: OWNER_PROTOCOL_VERSION,
        pairingMode: PAIRING_MODE_OWNER_PASSWORD,
        deviceId: this.#o.deviceId,
      }),
      signal,
    );
    const selectResponse = await m.receive(OwnerFrameType.SELECT, OwnerPhase.SPAKE2, spake2Deadline, signal);
    const select = decodeSelectResponse(selectResponse);
    if (
      select.protocolVersion !== OWNER_PROTOCOL_VERSION ||
      select.pairingMode !== PAIRING_MODE_OWNER_PASSWORD
    )
      throw this.#error(OwnerErrorCode.UNSUPPORTED_VERSION, "vehicle does not speak owner pairing v1", false);
    if (!(select.capabilities[0]! & CAPABILITY_BLE))
      throw this.#error(OwnerErrorCode.UNSUPPORTED_VERSION, "vehicle lacks BLE capability", false);

    // SPAKE2+
    await this.#enter("spake2", OwnerPhase.SPAKE2);
    const request = decodeSpake2Request(
      await m.receive(OwnerFrameType.SPAKE2_REQUEST, OwnerPhase.SPAKE2, spake2Deadline, signal),
    );
    this.#remainingAttempts = request.attemptRemaining;
    if (request.version !== OWNER_PROTOCOL_VERSION)
      throw this.#error(OwnerErrorCode.UNSUPPORTED_VERSION, "SPAKE2_REQUEST version", false);
    if (request.attemptRemaining === 0)
      throw this.#error(OwnerErrorCode.ATTEMPTS_EXHAUSTED, "no attempts left", false);
    // The vehicle must use the scrypt cost the server announced: no cheaper (weaker), no dearer (DoS).
    checkScryptParams(request.scrypt);
    const s = bootstrap.scrypt;
    if (request.scrypt.N !== s.N || request.scrypt.r !== s.r || request.scrypt.p !== s.p)
      throw this.#error(
        OwnerErrorCode.INVALID_SCRYPT_PARAMS,
        "scrypt parameters differ from the server's",
        false,
      );
    const scalars = await derivePasswordScalars(
      crypto,
      bootstrap.password,
      request.salt,
      request.scrypt,
      signal ? { signal } : {},
    );
    const deviceNonce = crypto.randomBytes(16);
    const prover = new Spake2PlusProver(
      crypto,
      {
        profile: "rfc9383",
        context: spake2Context(selectResponse, request.vehicleNonce, deviceNonce),
        idProver: this.#o.deviceId,
        idVerifier: utf8(bootstrap.vehicleId),
      },
      prepareProver(crypto, scalars),
    );
    this.#prover = prover;
    await m.send(
      OwnerFrameType.SPAKE2_RESPONSE,
      encodeSpake2Response({ pointX: prover.shareP, deviceNonce }),
      signal,
    );
    // From here on the vehicle has charged this attempt.
    this.#remainingAttempts = request.attemptRemaining - 1;
    const session = api.startSession(
      { sessionId: bootstrap.sessionId, devicePublicInfo: { deviceNonce, pointX: prover.shareP } },
      signal ? { signal } : {},
    );
    session.catch(() => {}); // awaited below; this only keeps an early rejection from going unhandled
    const verify = decodeSpake2Verify(
      await m.receive(OwnerFrameType.SPAKE2_VERIFY, OwnerPhase.SPAKE2, spake2Deadline, signal),
    );
    const { confirmP } = prover.receiveShareV(verify.pointY);
    const sharedKey = prover.verifyConfirmV(verify.evidence);
    if (verify.policyFlags & ~POLICY_FLAGS_KNOWN)
      throw this.#error(OwnerErrorCode.POLICY_REJECTED, "unknown policy flags", false);
    // The backend's verdict on this attempt comes before the handshake completes.
    const { transactionId } = await session;
    await m.send(
      OwnerFrameType.SPAKE2_VERIFY_RESPONSE,
      encodeSpake2VerifyResponse({ evidence: confirmP }),
      signal,
    );
    const keys = deriveOwnerPairingKeys(crypto, "rfc9383", sharedKey);
    wipe(sharedKey);
    this.#keys = keys;
    this.#o.link.secure(keys.kenc);
    await keychain.set(KeychainItem.sessionId, bootstrap.sessionId);
    await keychain.set(KeychainItem.transactionId, transactionId);

    // Configuration: verify the MAC first, parse second, store last.
    await this.#enter("config", OwnerPhase.CONFIG);
    const configDeadline = new Deadline(this.#clock, OwnerTimeouts.config, "configuration transfer");
    const configPayload = await m
      .receive(OwnerFrameType.DEVICE_CONFIG, OwnerPhase.CONFIG, configDeadline, signal)
      .catch((error: unknown) => {
        // A plaintext message now means the vehicle never secured the link: it refused confirmP
        // and answered in plaintext, which a secured link does not read (§2.6, §3.9). Its ERROR
        // is unreadable, but the refusal itself is known; nothing is sent back.
        if (error instanceof FrameError && error.code === "NOT_ENCRYPTED")
          throw new OwnerProtocolError(
            OwnerPhase.SPAKE2,
            OwnerErrorCode.CONFIRMATION_FAILED,
            "the vehicle did not secure the link: it refused confirmP",
            { retryAllowed: true, fromPeer: true, cause: error },
          );
        throw error;
      });
    const binding = { policyFlags: verify.policyFlags, vehicleEntropy: verify.vehicleEntropy };
    if (!verifyPolicyDigest(crypto, keys.kmac, binding, configPayload))
      throw this.#error(OwnerErrorCode.POLICY_DIGEST_MISMATCH, "policyDigest does not verify", false);
    const config = decodeDeviceConfig(configPayload);
    if (!constantTimeEqual(config.vehicleId, utf8(bootstrap.vehicleId)))
      throw this.#error(OwnerErrorCode.CERTIFICATE_INVALID, "configuration names another vehicle", false);
    const descriptor = decodeDescriptor(config.descriptor);
    const mailbox = decodeMailbox(config.mailbox);
    const vehiclePublicKey = verifyVehicleCertificateChain(crypto, {
      chain: descriptor.certificateChain,
      trustAnchors: this.#o.trustAnchors,
      vehicleId: bootstrap.vehicleId,
      now: this.#clock.now(),
    });
    const configDigest = crypto.sha256(configPayload);
    await keychain.set(KeychainItem.vehicleDescriptorDigest, toHex(crypto.sha256(config.descriptor)));
    await m.send(OwnerFrameType.DEVICE_CONFIG_ACK, encodeDeviceConfigAck({ configDigest }), signal);

    // Endpoint
    await this.#enter("endpoint", OwnerPhase.ENDPOINT);
    const endpoint = await se.createEndpoint();
    this.#createdKeyId = endpoint.keyId;
    await se.setupEndpoint(endpoint.keyId, {
      vehicleId: bootstrap.vehicleId,
      kenc: keys.kenc,
      kmac: keys.kmac,
      krmac: keys.krmac,
      mailbox,
      vehicleCertificateChain: descriptor.certificateChain,
      policyFlags: verify.policyFlags,
    });
    const readyBody = encodeEndpointReadyBody({
      endpointIdHash: endpoint.keyId,
      seStatus: 0,
      endpointPublicKey: endpoint.publicKey,
    });
    const receiptMac = await se.receiptMac(endpoint.keyId, endpointReceiptInput(readyBody, configDigest));
    await m.send(
      OwnerFrameType.ENDPOINT_READY,
      encodeEndpointReady({
        endpointIdHash: endpoint.keyId,
        seStatus: 0,
        endpointPublicKey: endpoint.publicKey,
        receiptMac,
      }),
      signal,
    );

    // Finalization. The key exists only once all three parties hold it (docs/protocol.md §3.7):
    // the vehicle says it stored the endpoint (OP_CONTROL_FLOW success), then the backend records
    // it — and revokes the key it replaces. Until then any failure erases the endpoint here and
    // the ERROR we send makes the vehicle forget it too; the backend never heard of it.
    await this.#enter("finalize", OwnerPhase.FINALIZE);
    const finalDeadline = new Deadline(this.#clock, OwnerTimeouts.response, "OP_CONTROL_FLOW");
    const control = decodeOpControlFlow(
      await m.receive(OwnerFrameType.OP_CONTROL_FLOW, OwnerPhase.FINALIZE, finalDeadline, signal),
    );
    if (control.p1 !== ControlFlow.END || control.p2 !== ControlFlow.SUCCESS)
      // 0x91: the vehicle did not store the endpoint and has ended the exchange; it gets no ERROR back.
      throw new OwnerProtocolError(
        OwnerPhase.FINALIZE,
        OwnerErrorCode.ENDPOINT_FAILED,
        `vehicle ended pairing without success (OP_CONTROL_FLOW ${toHex(Uint8Array.of(control.p1, control.p2))})`,
        { fromPeer: true },
      );
    const { ktsEndpointUrl } = await this.#confirmConfig(
      { transactionId, configDigest, endpointIdHash: endpoint.keyId, seStatus: 0 },
      signal,
    );
    this.#paired = true;

    // Attestation: the key works without it; a KTS failure only leaves it owed.
    await this.#enter("attestation", OwnerPhase.FINALIZE);
    const attestation = await this.#fetchAttestation(
      ktsEndpointUrl,
      transactionId,
      endpoint,
      bootstrap.vehicleId,
    );
    const encoded = attestation ? encodeKeyAttestation(attestation) : new Uint8Array(0);
    if (attestation) await se.storeKeyAttestation(endpoint.keyId, encoded);
    else
      await oweAttestation(keychain, {
        keyId: toHex(endpoint.keyId),
        vehicleId: bootstrap.vehicleId,
        transactionId,
        ktsEndpointUrl,
        fetched: false,
      });
    const sigBody = encodeSigBitmapUpdateBody({
      signalingBitmap: attestation ? SIGNALING_KEY_ATTESTED : 0,
      keyAttestation: encoded,
    });
    const sigMac = await se.receiptMac(endpoint.keyId, signalingReceiptInput(sigBody, endpoint.keyId));
    await m.send(
      OwnerFrameType.SIG_BITMAP_UPDATE,
      encodeSigBitmapUpdate({
        signalingBitmap: attestation ? SIGNALING_KEY_ATTESTED : 0,
        keyAttestation: encoded,
        receiptMac: sigMac,
      }),
      signal,
    );
    if (attestation)
      await api
        .reportKtsResponse({ transactionId, keyAttestation: attestation }, signal ? { signal } : {})
        .catch(() => {});
    await this.#o.log.append({ timestamp: this.#clock.now(), phase: "attestation", result: "ok" });
    await keychain.appendAudit({
      timestamp: this.#clock.now(),
      event: "owner-paired",
      detail: toHex(endpoint.keyId),
    });
    return {
      keyId: endpoint.keyId,
      endpointPublicKey: endpoint.publicKey,
      vehicleId: bootstrap.vehicleId,
      vehiclePublicKey,
      descriptor,
      policyFlags: verify.policyFlags,
      transactionId,
      attested: attestation !== undefined,
    };
  }

  /**
   * `config/confirm`, the commit point of the key (docs/protocol.md §3.7). The server may have
   * committed a confirm whose reply was lost; it answers a repeat of the same confirm with the same
   * key, so transient failures (no reply, busy) are retried a few times before the pairing is
   * rolled back.
   */
  async #confirmConfig(
    request: { transactionId: string; configDigest: Uint8Array; endpointIdHash: Uint8Array; seStatus: 0 },
    signal: AbortSignal | undefined,
  ): Promise<{ readonly ktsEndpointUrl: string }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#o.api.confirmConfig(request, signal ? { signal } : {});
      } catch (error) {
        signal?.throwIfAborted();
        if (attempt + 1 >= CONFIRM_ATTEMPTS || !isTransientApiError(error)) throw error;
        const delay = backoffDelayMs(error, attempt, CONFIRM_BACKOFF);
        // A server asking for a longer pause than the vehicle's wait allows is not waited for.
        if (delay > CONFIRM_BACKOFF.maxDelayMs) throw error;
        await sleep(this.#clock, delay, signal);
      }
    }
  }

  async #fetchAttestation(
    ktsEndpointUrl: string,
    transactionId: string,
    endpoint: { keyId: Uint8Array; publicKey: Uint8Array },
    vehicleId: string,
  ): Promise<KeyAttestation | undefined> {
    const { api, signal, ktsPublicKey } = this.#o;
    let attestation: KeyAttestation;
    try {
      attestation = await api.requestKeyAttestation(
        {
          ktsEndpointUrl,
          transactionId,
          keyId: endpoint.keyId,
          vehicleId,
          endpointPublicKey: endpoint.publicKey,
        },
        signal ? { signal } : {},
      );
    } catch {
      return undefined;
    }
    // An attestation for another key, or one that does not verify, is never stored or
    // forwarded: the key stays unattested (and owed), exactly as if the KTS were unreachable.
    const matches =
      attestationNamesEndpoint(this.#crypto, attestation, { ...endpoint, vehicleId }) &&
      (ktsPublicKey === undefined || verifyKeyAttestation(this.#crypto, ktsPublicKey, attestation));
    if (matches) return attestation;
    await this.#o.keychain.appendAudit({
      timestamp: this.#clock.now(),
      event: "attestation-rejected",
      detail: toHex(endpoint.keyId),
    });
    return undefined;
  }

  #error(code: number, message: string, retryAllowed: boolean): OwnerProtocolError {
    return new OwnerProtocolError(this.#phase, code, message, { retryAllowed });
  }

  async fail(error: unknown): Promise<OwnerPairingFailure> {
    // A vehicle that reported an error and dropped the link explains it better than DISCONNECTED.
    const peer =
      error instanceof TransportError ? await this.#messenger.queuedPeerError(this.#phase) : undefined;
    const reported = peer ?? toOwnerProtocolError(error, this.#phase);
    // With no attempt left there is nothing to retry, whatever the failure.
    const failure =
      reported.retryAllowed && this.#remainingAttempts === 0 && !reported.fromPeer
        ? new OwnerProtocolError(reported.phaseNumber, reported.wireCode, reported.message, { cause: error })
        : reported;
    // Once paired, all three parties hold the key: an ERROR now would make the vehicle drop it
    // (§3.7), so a local failure after that point (storing the attestation, sending
    // SIG_BITMAP_UPDATE) is not reported; the vehicle keeps the key, unattested.
    if (!this.#paired) await this.#messenger.reportError(failure);
    // Nothing half-paired survives: the endpoint goes unless all three parties hold it.
    if (this.#createdKeyId && !this.#paired)
      await this.#o.secureElement.deleteEndpoint(this.#createdKeyId).catch(() => false);
    await this.#o.log
      .append({
        timestamp: this.#clock.now(),
        phase: this.#logPhase,
        result: "failed",
        errorCode: failure.code,
      })
      .catch(() => {});
    const remaining =
      failure.wireCode === OwnerErrorCode.ATTEMPTS_EXHAUSTED
        ? 0
        : error instanceof ApiError && error.remainingAttempts !== undefined
          ? Math.min(error.remainingAttempts, this.#remainingAttempts ?? Number.POSITIVE_INFINITY)
          : this.#remainingAttempts;
    // A backend or secure element failure keeps its own code for the app; the vehicle saw a wire code.
    const code = error instanceof ApiError || error instanceof SecureElementError ? error.code : failure.code;
    return {
      phase: failure.phase as OwnerPhaseName,
      code,
      message: failure.message,
      retryAllowed: failure.retryAllowed && remaining !== 0,
      remainingAttempts: remaining,
      fromVehicle: failure.fromPeer,
      cause: error,
    };
  }

  destroy(): void {
    this.#prover?.destroy();
    if (this.#keys) wipeOwnerPairingKeys(this.#keys);
  }
}
