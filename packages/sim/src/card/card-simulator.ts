import {
  AbortedError,
  ActiveCardEvent,
  answerFailure,
  CARD_NONCE_LENGTH,
  CARD_REPLY_TIMEOUT_MS,
  CARD_SESSION_LIFETIME_MS,
  CardChannel,
  type CardMessage,
  type CardPhase,
  CardProtocolError,
  type CardQrPayload,
  CardRole,
  type Clock,
  type Crypto,
  challengeMessage,
  checkEmpty,
  checkExpected,
  checkNonce,
  checkPublicKey,
  checkSource,
  constantTimeEqual,
  decodeBody,
  decodeLinkMessage,
  decodeUserId,
  deriveCardSessionKey,
  ECDHExchangeAckSchema,
  ECDHPublicKeySchema,
  ephemeralKeyMessage,
  expectMessage,
  ForgetAckSchema,
  formatQrPayload,
  IdentityPublicKeySchema,
  type Link,
  type LinkMessage,
  NonceResponseSchema,
  PairingConfirmationSchema,
  PairkitError,
  refusalIn,
  SignatureVerificationResultSchema,
  SignedNonceSchema,
  systemClock,
  TimeoutError,
  TransportError,
  toHex,
  UserIdentitySchema,
  verifyPeerSignature,
  type WalletPublic,
  type WrapperFields,
  wipe,
} from "@pairkit/core";
import { CardMpc, type CardMpcPolicy } from "./card-mpc.ts";
import type { CardState, CardStore, PairedPhone } from "./card-store.ts";

export interface CardSimulatorOptions {
  readonly crypto: Crypto;
  readonly store: CardStore;
  readonly clock?: Clock;
  readonly deviceName: string;
  /** The user the card belongs to; a phone may bind only this user. Empty: any user. */
  readonly ownerUser: string;
  readonly firmwareVersion: string;
  /** Per-message deadline inside a handshake. */
  readonly timeoutMs?: number;
  readonly sessionLifetimeMs?: number;
  readonly maxPairedPhones?: number;
  /** What the card lets MPC wallets sign (docs §4.11); default: everything its owner phone asks. */
  readonly mpcPolicy?: CardMpcPolicy;
  /** The card's display (what it is asked to sign); default: nowhere. */
  readonly log?: (line: string) => void;
}

export interface ServeOptions {
  readonly signal?: AbortSignal;
  /** Every session that ends in error (the card then waits for the next session). */
  readonly onError?: (error: PairkitError) => void;
}

/** The phase of each request the established session answers (docs §4.8). */
const REQUEST_PHASE: Partial<Record<ActiveCardEvent, CardPhase>> = {
  [ActiveCardEvent.SEND_USER_IDENTITY]: "binding",
  [ActiveCardEvent.FORGET_DEVICE]: "forget",
};

/** How long the card waits for a session to start before checking its link again. */
const IDLE_POLL_MS = 60_000;
const DEFAULT_MAX_PAIRED_PHONES = 8;

/**
 * The Active Card firmware, simulated (seed 002, docs/protocol.md §4): the reference peer
 * for the phone SDK and for firmware teams. It creates and persists its identity key on first
 * start, shows its QR payload, and serves one phone at a time over a Link. Any bad input ends
 * only the current session (typed error, failure answer where the protocol has one, nothing
 * stored) and the card goes on serving.
 */
export class CardSimulator {
  readonly deviceId: string;
  readonly identityPublicKey: Uint8Array;
  readonly #options: CardSimulatorOptions;
  readonly #clock: Clock;
  readonly #identityPrivateKey: Uint8Array;
  #state: CardState;
  #writes: Promise<void> = Promise.resolve();
  readonly #mpc: CardMpc;

  private constructor(options: CardSimulatorOptions, state: CardState) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#state = state;
    this.deviceId = state.deviceId;
    this.#identityPrivateKey = state.identityPrivateKey;
    this.identityPublicKey = options.crypto.publicKeyOf(state.identityPrivateKey);
    this.#mpc = new CardMpc({
      crypto: options.crypto,
      clock: this.#clock,
      identityPublicKey: this.identityPublicKey,
      policy: options.mpcPolicy ?? {},
      log: options.log ?? (() => {}),
      state: () => this.#state,
      update: (change) => this.#update(change),
    });
  }

  /** Loads the card's state, or on first start generates its identity key and device id and saves them. */
  static async open(options: CardSimulatorOptions): Promise<CardSimulator> {
    let state = await options.store.load();
    if (!state) {
      state = {
        deviceId: formatUuid(options.crypto.randomBytes(16)),
        identityPrivateKey: options.crypto.generateKeyPair().privateKey,
        pairedPhones: [],
      };
      await options.store.save(state);
    }
    return new CardSimulator(options, state);
  }

  /** The QR payload as the card would display it now (timestamp refreshed on every call). */
  qrPayload(): CardQrPayload {
    return {
      identityPublicKey: this.identityPublicKey.slice(),
      deviceId: this.deviceId,
      deviceName: this.#options.deviceName,
      ownerUser: this.#options.ownerUser,
      firmwareVersion: this.#options.firmwareVersion,
      timestamp: Math.floor(this.#clock.now() / 1000),
    };
  }

  qrText(): string {
    return formatQrPayload(this.qrPayload());
  }

  get pairedPhones(): readonly PairedPhone[] {
    return this.#state.pairedPhones;
  }

  /** Public data of the MPC wallets the card holds a share of. */
  get wallets(): readonly WalletPublic[] {
    return (this.#state.wallets ?? []).map((w) => w.wallet);
  }

  /** Serves sessions on `link` until it closes or `signal` aborts. */
  async serve(link: Link, options: ServeOptions = {}): Promise<void> {
    const { signal } = options;
    while (!link.closed && !signal?.aborted) {
      let first: LinkMessage;
      try {
        first = await link.receive(
          signal ? { timeoutMs: IDLE_POLL_MS, signal } : { timeoutMs: IDLE_POLL_MS },
        );
      } catch (error) {
        if (error instanceof TimeoutError) continue;
        if (error instanceof TransportError || error instanceof AbortedError) return;
        throw error;
      }
      try {
        await this.#session(link, first, signal);
      } catch (error) {
        if (error instanceof TransportError || error instanceof AbortedError) return;
        if (!(error instanceof PairkitError)) throw error;
        options.onError?.(error);
      }
    }
  }

  /** Wipes the identity key; the simulator cannot serve after. */
  destroy(): void {
    wipe(this.#identityPrivateKey);
  }

  async #session(link: Link, first: LinkMessage, signal: AbortSignal | undefined): Promise<void> {
    const wrapper = decodeLinkMessage(first, "challenge");
    const channel = new CardChannel({
      link,
      crypto: this.#options.crypto,
      role: CardRole.card,
      sessionId: wrapper.sessionId,
      sessionStartTime: wrapper.sessionStartTime,
      timeoutMs: this.#options.timeoutMs ?? CARD_REPLY_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
    });
    try {
      if (wrapper.messageType === ActiveCardEvent.FORGET_DEVICE) {
        throw new CardProtocolError(
          "NOT_AUTHENTICATED",
          "forget",
          "FORGET_DEVICE outside an authenticated session",
        );
      }
      const opening = channel.open(wrapper, "challenge");
      if (opening.type !== ActiveCardEvent.NONCE_RESPONSE) {
        // Not a session (e.g. the rest of one the card has ended): nothing to answer in (§4.8).
        throw new CardProtocolError(
          "UNEXPECTED_MESSAGE",
          "session",
          "a session starts with the phone's challenge",
        );
      }
      const phone = await this.#handshake(channel, opening);
      await this.#serveSession(channel, phone);
    } catch (error) {
      await answerFailure(channel, error);
      throw error;
    } finally {
      channel.destroy();
    }
  }

  /** docs §4.5 steps 1–12, card side. Returns the authenticated phone identity. */
  async #handshake(
    channel: CardChannel,
    opening: CardMessage,
  ): Promise<{ key: Uint8Array; reconnect: boolean }> {
    const { crypto } = this.#options;
    const sessionId = channel.sessionId;
    const phoneNonce = checkNonce(
      decodeBody(NonceResponseSchema, opening, "challenge").nonce,
      "challenge",
      "phone nonce",
    );
    const signerNonce = crypto.randomBytes(CARD_NONCE_LENGTH);
    await channel.send(ActiveCardEvent.SIGNED_NONCE, SignedNonceSchema, {
      signature: crypto.ecdsaSign(
        this.#identityPrivateKey,
        challengeMessage({ signer: CardRole.card, sessionId, verifierNonce: phoneNonce, signerNonce }),
        this.identityPublicKey,
      ),
      signerNonce,
    });
    await expectMessage(channel, "challenge", ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT);

    const identity = decodeBody(
      IdentityPublicKeySchema,
      await expectMessage(channel, "challenge", ActiveCardEvent.SEND_IDENTITY_PUBLIC_KEY),
      "challenge",
    );
    checkSource(identity.source, "mobile", "challenge");
    checkPublicKey(identity.pubkey, "challenge", "phone identity key");
    checkEmpty(
      (await expectMessage(channel, "challenge", ActiveCardEvent.NONCE_REQUEST)).body,
      "challenge",
      "NONCE_REQUEST",
    );
    const cardNonce = crypto.randomBytes(CARD_NONCE_LENGTH);
    await channel.send(ActiveCardEvent.NONCE_RESPONSE, NonceResponseSchema, { nonce: cardNonce });
    const proof = decodeBody(
      SignedNonceSchema,
      await expectMessage(channel, "challenge", ActiveCardEvent.SIGNED_NONCE),
      "challenge",
    );
    checkNonce(proof.signerNonce, "challenge", "phone signer nonce");
    verifyPeerSignature(
      crypto,
      {
        publicKey: identity.pubkey,
        message: challengeMessage({
          signer: CardRole.phone,
          sessionId,
          verifierNonce: cardNonce,
          signerNonce: proof.signerNonce,
        }),
        signature: proof.signature,
      },
      "challenge",
    );
    // Refused only after the phone proved its key, so nobody can probe which keys are paired.
    if (identity.reconnect && !this.#isPaired(identity.pubkey)) {
      throw new CardProtocolError("NOT_PAIRED", "challenge", "reconnect from a phone that is not paired");
    }
    await channel.send(ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT, SignatureVerificationResultSchema, {
      valid: true,
    });

    const phoneEphemeral = decodeBody(
      ECDHPublicKeySchema,
      await expectMessage(channel, "ecdh", ActiveCardEvent.SEND_ECDH_PUBLIC_KEY),
      "ecdh",
    );
    checkSource(phoneEphemeral.source, "mobile", "ecdh");
    checkPublicKey(phoneEphemeral.pubkey, "ecdh", "phone ephemeral key");
    const transcript = { sessionId, phoneNonce, cardNonce };
    verifyPeerSignature(
      crypto,
      {
        publicKey: identity.pubkey,
        message: ephemeralKeyMessage({
          ...transcript,
          signer: CardRole.phone,
          ephemeralPublicKey: phoneEphemeral.pubkey,
        }),
        signature: phoneEphemeral.signature,
      },
      "ecdh",
    );
    const ephemeral = crypto.generateKeyPair();
    let key: Uint8Array;
    try {
      await channel.send(ActiveCardEvent.SEND_ECDH_PUBLIC_KEY, ECDHPublicKeySchema, {
        pubkey: ephemeral.publicKey,
        source: "firmware",
        signature: crypto.ecdsaSign(
          this.#identityPrivateKey,
          ephemeralKeyMessage({
            ...transcript,
            signer: CardRole.card,
            ephemeralPublicKey: ephemeral.publicKey,
          }),
          this.identityPublicKey,
        ),
      });
      const sharedSecret = crypto.ecdh(ephemeral.privateKey, phoneEphemeral.pubkey);
      key = deriveCardSessionKey(crypto, {
        sharedSecret,
        sessionId,
        phoneEphemeralPublicKey: phoneEphemeral.pubkey,
        cardEphemeralPublicKey: ephemeral.publicKey,
      });
      wipe(sharedSecret);
    } finally {
      wipe(ephemeral.privateKey);
    }
    // A phone that rejects our key can only answer in plaintext; a sealed answer must be its
    // encrypted ack under the new key.
    try {
      const answer = await channel.receiveWrapper("ecdh");
      if (answer.sealed) channel.secure(key);
      checkExpected(channel.open(answer, "ecdh"), "ecdh", ActiveCardEvent.ECDH_EXCHANGE_ACK);
      if (!channel.keyed)
        throw new CardProtocolError("NOT_ENCRYPTED", "ecdh", "ECDH_EXCHANGE_ACK must be encrypted");
    } catch (error) {
      // The card holds K from step 11, so its failure message is sealed (docs §4.8).
      if (!channel.keyed) channel.secure(key);
      throw error;
    } finally {
      wipe(key);
    }
    await channel.send(ActiveCardEvent.ECDH_EXCHANGE_ACK, ECDHExchangeAckSchema, { success: true });
    return { key: identity.pubkey, reconnect: identity.reconnect };
  }

  /** The established session: user binding (first pairing only) and forget, until expiry. */
  async #serveSession(channel: CardChannel, phone: { key: Uint8Array; reconnect: boolean }): Promise<void> {
    const deadline = this.#clock.now() + (this.#options.sessionLifetimeMs ?? CARD_SESSION_LIFETIME_MS);
    let mayBind = !phone.reconnect;
    let bound = false;
    for (;;) {
      const remaining = deadline - this.#clock.now();
      if (remaining <= 0)
        throw new CardProtocolError("SESSION_EXPIRED", "session", "session lifetime is over");
      let wrapper: WrapperFields;
      try {
        wrapper = await channel.receiveWrapper("session", remaining);
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
        throw new CardProtocolError("SESSION_EXPIRED", "session", "session lifetime is over", {
          cause: error,
        });
      }
      // A request that fails any check, its wrapper's included, gets its failure message (§4.8).
      const message = channel.open(wrapper, REQUEST_PHASE[wrapper.messageType] ?? "session");
      switch (message.type) {
        case ActiveCardEvent.SEND_USER_IDENTITY:
          if (!mayBind) throw new CardProtocolError("UNEXPECTED_MESSAGE", "binding", "user already bound");
          await this.#bind(channel, message, phone.key);
          mayBind = false;
          bound = true;
          break;
        case ActiveCardEvent.FORGET_DEVICE:
          await this.#forget(channel, message, phone.key);
          return;
        case ActiveCardEvent.MPC_DKG_START:
        case ActiveCardEvent.MPC_DKG_FINISH:
        case ActiveCardEvent.MPC_SIGN_REQUEST:
        case ActiveCardEvent.MPC_SIGN_PACKAGE:
          await this.#mpc.handle(channel, message, phone.key);
          break;
        default: {
          const refusal = refusalIn(message, "session");
          // The phone refused our confirmation (§4.8 row 15) and kept nothing: neither does the card.
          if (refusal && bound && message.type === ActiveCardEvent.PAIRING_CONFIRMATION) {
            await this.#unpair(phone.key, "binding");
          }
          throw (
            refusal ??
            new CardProtocolError(
              "UNEXPECTED_MESSAGE",
              "session",
              `${ActiveCardEvent[message.type]} in session`,
            )
          );
        }
      }
    }
  }

  async #bind(channel: CardChannel, message: CardMessage, phoneKey: Uint8Array): Promise<void> {
    const userId = decodeUserId(decodeBody(UserIdentitySchema, message, "binding").encryptedUserId);
    const { ownerUser } = this.#options;
    if (ownerUser && userId !== ownerUser) {
      throw new CardProtocolError("USER_MISMATCH", "binding", "user is not the card's owner");
    }
    const phone = { identityPublicKey: phoneKey.slice(), userId, pairedAt: this.#clock.now() };
    await this.#update((state) => {
      const others = state.pairedPhones.filter((p) => !constantTimeEqual(p.identityPublicKey, phoneKey));
      if (others.length >= (this.#options.maxPairedPhones ?? DEFAULT_MAX_PAIRED_PHONES)) {
        throw new CardProtocolError("PAIRING_FULL", "binding", "no room for another phone");
      }
      return { ...state, pairedPhones: [...others, phone] };
    });
    await channel.send(ActiveCardEvent.PAIRING_CONFIRMATION, PairingConfirmationSchema, { confirmed: true });
  }

  async #forget(channel: CardChannel, message: CardMessage, phoneKey: Uint8Array): Promise<void> {
    checkEmpty(message.body, "forget", "FORGET_DEVICE");
    await this.#unpair(phoneKey, "forget");
    await channel.send(ActiveCardEvent.FORGET_ACK, ForgetAckSchema, { erased: true });
  }

  /** Erases the phone's entry; NOT_PAIRED when there is none. */
  #unpair(phoneKey: Uint8Array, phase: CardPhase): Promise<void> {
    return this.#update((state) => {
      const remaining = state.pairedPhones.filter((p) => !constantTimeEqual(p.identityPublicKey, phoneKey));
      if (remaining.length === state.pairedPhones.length) {
        throw new CardProtocolError("NOT_PAIRED", phase, "phone is not paired");
      }
      // The phone's MPC wallet shares go with it.
      const wallets = (state.wallets ?? []).filter((w) => !constantTimeEqual(w.ownerPhoneKey, phoneKey));
      return { ...state, pairedPhones: remaining, wallets };
    });
  }

  /**
   * Changes the stored state: one change at a time, each computed from the state the previous
   * one left (sessions on several links may overlap), saved first and adopted after, so a
   * failed write leaves the card as it was.
   */
  #update(change: (state: CardState) => CardState): Promise<void> {
    const done = this.#writes.then(async () => {
      const state = change(this.#state);
      await this.#options.store.save(state);
      this.#state = state;
    });
    this.#writes = done.catch(() => {});
    return done;
  }

  #isPaired(phoneKey: Uint8Array): boolean {
    return this.#state.pairedPhones.some((p) => constantTimeEqual(p.identityPublicKey, phoneKey));
  }
}

/** RFC 9562 version 4 UUID text from 16 random bytes. */
function formatUuid(bytes: Uint8Array): string {
  const b = bytes.slice(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = toHex(b);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
