import { wipe } from "../bytes.ts";
import type { Crypto, P256KeyPair } from "../crypto/crypto.ts";
import { CARD_SESSION_ID_LENGTH, deriveCardSessionKey } from "../crypto/session-keys.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import type { Link } from "../ports/link.ts";
import { CardChannel, decodeBody } from "./channel.ts";
import { checkNonce, checkPublicKey, checkSource, encodeUserId, verifyPeerSignature } from "./checks.ts";
import { CardProtocolError } from "./errors.ts";
import { answerFailure, expectMessage } from "./failures.ts";
import {
  ActiveCardEvent,
  ECDHExchangeAckSchema,
  ECDHPublicKeySchema,
  ForgetAckSchema,
  IdentityPublicKeySchema,
  NonceResponseSchema,
  PairingConfirmationSchema,
  SignatureVerificationResultSchema,
  SignedNonceSchema,
  UserIdentitySchema,
} from "./gen/pairkit/activecard/v1/active_card_pb.ts";
import type { PairedCard, PairedCardStore } from "./paired-card-store.ts";
import { type CardQrPayload, checkQrTimestamp } from "./qr-payload.ts";
import { CARD_NONCE_LENGTH, CardRole, challengeMessage, ephemeralKeyMessage } from "./signed-messages.ts";

/** The card must answer each message within this (seed 001 §2: 5 s per response). */
export const CARD_REPLY_TIMEOUT_MS = 5_000;
/** An established session ends this long after its key was agreed; both sides enforce it. */
export const CARD_SESSION_LIFETIME_MS = 10 * 60_000;

export interface ActiveCardPhoneOptions {
  readonly crypto: Crypto;
  readonly store: PairedCardStore;
  readonly clock?: Clock;
  readonly timeoutMs?: number;
  readonly sessionLifetimeMs?: number;
}

export interface CardCallOptions {
  readonly signal?: AbortSignal;
}

/**
 * The phone side of Active Card pairing (seed 002, docs/protocol.md §4): pair from a scanned
 * QR code, reconnect to a paired card without one, and (through the returned
 * {@link CardSession}) forget it. Transport-agnostic: it talks to a {@link Link}.
 */
export class ActiveCardPhone {
  readonly #crypto: Crypto;
  readonly #store: PairedCardStore;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #lifetimeMs: number;

  constructor(options: ActiveCardPhoneOptions) {
    this.#crypto = options.crypto;
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.timeoutMs ?? CARD_REPLY_TIMEOUT_MS;
    this.#lifetimeMs = options.sessionLifetimeMs ?? CARD_SESSION_LIFETIME_MS;
  }

  /**
   * First pairing: authenticates the card against the QR code's key, proves a fresh phone
   * identity, agrees a session key, binds `userId`, and stores the pairing once the card has
   * confirmed it. Nothing is stored on any failure.
   */
  async pair(
    link: Link,
    qr: CardQrPayload,
    userId: string,
    options: CardCallOptions = {},
  ): Promise<CardSession> {
    checkQrTimestamp(qr.timestamp, this.#clock.now());
    const userIdBytes = encodeUserId(userId);
    const phoneIdentity = this.#crypto.generateKeyPair();
    try {
      const channel = await this.#handshake(link, qr.identityPublicKey, phoneIdentity, false, options);
      const established = this.#clock.now();
      try {
        await channel.send(ActiveCardEvent.SEND_USER_IDENTITY, UserIdentitySchema, {
          encryptedUserId: userIdBytes,
        });
        const reply = await expectMessage(channel, "binding", ActiveCardEvent.PAIRING_CONFIRMATION);
        decodeBody(PairingConfirmationSchema, reply, "binding");
        const card: PairedCard = {
          deviceId: qr.deviceId,
          deviceName: qr.deviceName,
          firmwareVersion: qr.firmwareVersion,
          cardIdentityPublicKey: qr.identityPublicKey.slice(),
          phoneIdentityPrivateKey: phoneIdentity.privateKey,
          phoneIdentityPublicKey: phoneIdentity.publicKey,
          userId,
          pairedAt: this.#clock.now(),
        };
        await this.#store.put(card);
        return this.#session(channel, qr.deviceId, established);
      } catch (error) {
        await answerFailure(channel, error);
        channel.destroy();
        throw error;
      }
    } finally {
      wipe(phoneIdentity.privateKey);
    }
  }

  /**
   * Reconnects to a paired card: the same mutual challenge and signed ECDH with the stored
   * identity keys, no QR code. A card that has forgotten this phone refuses (CARD_REFUSED,
   * reason NOT_PAIRED).
   */
  async reconnect(link: Link, deviceId: string, options: CardCallOptions = {}): Promise<CardSession> {
    const card = await this.#store.get(deviceId);
    if (!card)
      throw new CardProtocolError("NOT_PAIRED", "challenge", `no pairing stored for card ${deviceId}`);
    const identity = { privateKey: card.phoneIdentityPrivateKey, publicKey: card.phoneIdentityPublicKey };
    try {
      const channel = await this.#handshake(link, card.cardIdentityPublicKey, identity, true, options);
      return this.#session(channel, deviceId, this.#clock.now());
    } finally {
      wipe(card.phoneIdentityPrivateKey);
    }
  }

  /** The lifetime runs from the end of the handshake (docs §4.8), as on the card. */
  #session(channel: CardChannel, deviceId: string, established: number): CardSession {
    return new CardSession(channel, {
      deviceId,
      store: this.#store,
      clock: this.#clock,
      expiresAt: established + this.#lifetimeMs,
    });
  }

  /** docs §4.5 steps 1–12; returns the keyed channel after mutual key confirmation. */
  async #handshake(
    link: Link,
    cardIdentityPublicKey: Uint8Array,
    phoneIdentity: P256KeyPair,
    reconnect: boolean,
    { signal }: CardCallOptions,
  ): Promise<CardChannel> {
    const crypto = this.#crypto;
    const sessionId = crypto.randomBytes(CARD_SESSION_ID_LENGTH);
    const channel = new CardChannel({
      link,
      crypto,
      role: CardRole.phone,
      sessionId,
      sessionStartTime: BigInt(Math.floor(this.#clock.now())),
      timeoutMs: this.#timeoutMs,
      ...(signal ? { signal } : {}),
    });
    try {
      // The phone challenges the card with the key from the QR code (or the stored one).
      const phoneNonce = crypto.randomBytes(CARD_NONCE_LENGTH);
      await channel.send(ActiveCardEvent.NONCE_RESPONSE, NonceResponseSchema, { nonce: phoneNonce });
      const cardProof = decodeBody(
        SignedNonceSchema,
        await expectMessage(channel, "challenge", ActiveCardEvent.SIGNED_NONCE),
        "challenge",
      );
      checkNonce(cardProof.signerNonce, "challenge", "card signer nonce");
      verifyPeerSignature(
        crypto,
        {
          publicKey: cardIdentityPublicKey,
          message: challengeMessage({
            signer: CardRole.card,
            sessionId,
            verifierNonce: phoneNonce,
            signerNonce: cardProof.signerNonce,
          }),
          signature: cardProof.signature,
        },
        "challenge",
        // Whatever answered is not the card whose key we hold (docs §2.1: try the next one).
        "WRONG_CARD",
      );
      await channel.send(ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT, SignatureVerificationResultSchema, {
        valid: true,
      });

      // The card challenges the phone identity it has just been given.
      await channel.send(ActiveCardEvent.SEND_IDENTITY_PUBLIC_KEY, IdentityPublicKeySchema, {
        pubkey: phoneIdentity.publicKey,
        source: "mobile",
        reconnect,
      });
      await channel.send(ActiveCardEvent.NONCE_REQUEST);
      const cardNonce = checkNonce(
        decodeBody(
          NonceResponseSchema,
          await expectMessage(channel, "challenge", ActiveCardEvent.NONCE_RESPONSE),
          "challenge",
        ).nonce,
        "challenge",
        "card nonce",
      );
      const signerNonce = crypto.randomBytes(CARD_NONCE_LENGTH);
      await channel.send(ActiveCardEvent.SIGNED_NONCE, SignedNonceSchema, {
        signature: crypto.ecdsaSign(
          phoneIdentity.privateKey,
          challengeMessage({ signer: CardRole.phone, sessionId, verifierNonce: cardNonce, signerNonce }),
          phoneIdentity.publicKey,
        ),
        signerNonce,
      });
      await expectMessage(channel, "challenge", ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT);

      // Signed ephemeral ECDH, then each side proves the key with an encrypted ack.
      const ephemeral = crypto.generateKeyPair();
      try {
        const transcript = { sessionId, phoneNonce, cardNonce };
        await channel.send(ActiveCardEvent.SEND_ECDH_PUBLIC_KEY, ECDHPublicKeySchema, {
          pubkey: ephemeral.publicKey,
          source: "mobile",
          signature: crypto.ecdsaSign(
            phoneIdentity.privateKey,
            ephemeralKeyMessage({
              ...transcript,
              signer: CardRole.phone,
              ephemeralPublicKey: ephemeral.publicKey,
            }),
            phoneIdentity.publicKey,
          ),
        });
        const cardEphemeral = decodeBody(
          ECDHPublicKeySchema,
          await expectMessage(channel, "ecdh", ActiveCardEvent.SEND_ECDH_PUBLIC_KEY),
          "ecdh",
        );
        checkSource(cardEphemeral.source, "firmware", "ecdh");
        checkPublicKey(cardEphemeral.pubkey, "ecdh", "card ephemeral key");
        verifyPeerSignature(
          crypto,
          {
            publicKey: cardIdentityPublicKey,
            message: ephemeralKeyMessage({
              ...transcript,
              signer: CardRole.card,
              ephemeralPublicKey: cardEphemeral.pubkey,
            }),
            signature: cardEphemeral.signature,
          },
          "ecdh",
        );
        const sharedSecret = crypto.ecdh(ephemeral.privateKey, cardEphemeral.pubkey);
        const key = deriveCardSessionKey(crypto, {
          sharedSecret,
          sessionId,
          phoneEphemeralPublicKey: ephemeral.publicKey,
          cardEphemeralPublicKey: cardEphemeral.pubkey,
        });
        channel.secure(key);
        wipe(sharedSecret, key);
      } finally {
        wipe(ephemeral.privateKey);
      }
      await channel.send(ActiveCardEvent.ECDH_EXCHANGE_ACK, ECDHExchangeAckSchema, { success: true });
      await expectMessage(channel, "ecdh", ActiveCardEvent.ECDH_EXCHANGE_ACK);
      return channel;
    } catch (error) {
      await answerFailure(channel, error);
      channel.destroy();
      throw error;
    }
  }
}

/**
 * An authenticated, encrypted session with a paired card (the base for later MPC work).
 * `destroy()` wipes the session key; `close()` also closes the link.
 */
export class CardSession {
  readonly deviceId: string;
  readonly expiresAt: number;
  readonly #channel: CardChannel;
  readonly #store: PairedCardStore;
  readonly #clock: Clock;

  constructor(
    channel: CardChannel,
    context: { deviceId: string; store: PairedCardStore; clock: Clock; expiresAt: number },
  ) {
    this.#channel = channel;
    this.deviceId = context.deviceId;
    this.#store = context.store;
    this.#clock = context.clock;
    this.expiresAt = context.expiresAt;
  }

  get sessionId(): Uint8Array {
    return this.#channel.sessionId.slice();
  }

  /**
   * Asks the card to erase this phone (FORGET_DEVICE inside the session); once it confirms,
   * erases the card here too. The session ends either way; a bad FORGET_ACK gets no failure
   * message, since the card ends the session with its answer (docs §4.8, row F2).
   */
  async forget(): Promise<void> {
    try {
      this.#checkAlive();
      await this.#channel.send(ActiveCardEvent.FORGET_DEVICE);
      const ack = await expectMessage(this.#channel, "forget", ActiveCardEvent.FORGET_ACK);
      decodeBody(ForgetAckSchema, ack, "forget");
      await this.#store.delete(this.deviceId);
    } finally {
      this.destroy();
    }
  }

  /**
   * The keyed channel, for protocols that run inside the session (MPC, docs §4.11);
   * SESSION_EXPIRED once the lifetime is over.
   */
  liveChannel(): CardChannel {
    this.#checkAlive();
    return this.#channel;
  }

  /** Both identity public keys of this pairing (the MPC DKG transcript binds them). */
  async identityPublicKeys(): Promise<{ phone: Uint8Array; card: Uint8Array }> {
    const card = await this.#store.get(this.deviceId);
    if (!card)
      throw new CardProtocolError("NOT_PAIRED", "session", `no pairing stored for card ${this.deviceId}`);
    wipe(card.phoneIdentityPrivateKey);
    return { phone: card.phoneIdentityPublicKey, card: card.cardIdentityPublicKey };
  }

  destroy(): void {
    this.#channel.destroy();
  }

  async close(): Promise<void> {
    this.destroy();
    await this.#channel.link.close();
  }

  #checkAlive(): void {
    if (this.#clock.now() >= this.expiresAt) {
      throw new CardProtocolError("SESSION_EXPIRED", "session", "session lifetime is over");
    }
  }
}
