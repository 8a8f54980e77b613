import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ActiveCardEvent,
  CardChannel,
  CardRole,
  type Clock,
  type Crypto,
  challengeMessage,
  createMemoryLinkPair,
  decodeBody,
  deriveCardSessionKey,
  ECDHExchangeAckSchema,
  ECDHPublicKeySchema,
  ephemeralKeyMessage,
  expectMessage,
  IdentityPublicKeySchema,
  type Link,
  type LinkMessage,
  NonceResponseSchema,
  type P256KeyPair,
  type PairkitError,
  SignatureVerificationResultSchema,
  SignedNonceSchema,
  TransportMessageWrapperSchema,
} from "@pairkit/core";
import type { CardSimulator } from "../../src/card/index.ts";

/** A clock the test moves by hand; timers fire in order as it passes them. */
export class ManualClock implements Clock {
  #now: number;
  #timers: { at: number; fn: () => void }[] = [];

  constructor(now = 1_715_148_123_000) {
    this.#now = now;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const timer = { at: this.#now + ms, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  advance(ms: number): void {
    this.#now += ms;
    const due = this.#timers.filter((t) => t.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#timers = this.#timers.filter((t) => t.at > this.#now);
    for (const timer of due) timer.fn();
  }
}

/**
 * A man in the middle on one direction: every message the wrapped link sends goes through
 * `tamper`, which returns what actually goes out (nothing, the same, changed, or more).
 */
export class TamperLink implements Link {
  sentCount = 0;

  constructor(
    readonly inner: Link,
    readonly tamper: (message: LinkMessage, index: number) => LinkMessage[],
  ) {}

  get closed(): boolean {
    return this.inner.closed;
  }

  async send(message: LinkMessage): Promise<void> {
    for (const out of this.tamper(message, this.sentCount++)) await this.inner.send(out);
  }

  receive(options: Parameters<Link["receive"]>[0]): Promise<LinkMessage> {
    return this.inner.receive(options);
  }

  secure(key: Uint8Array): void {
    this.inner.secure(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export function messageTypeOf(message: LinkMessage): number {
  return fromBinary(TransportMessageWrapperSchema, message.payload).messageType;
}

/** Re-encodes a link message with its wrapper fields edited. */
export function editWrapper(
  message: LinkMessage,
  edit: (w: ReturnType<typeof fromBinary<typeof TransportMessageWrapperSchema>>) => void,
): LinkMessage {
  const wrapper = fromBinary(TransportMessageWrapperSchema, message.payload);
  edit(wrapper);
  return { type: message.type, payload: toBinary(TransportMessageWrapperSchema, wrapper) };
}

/** Re-encodes a plaintext message with its inner message edited. */
export function editContents<S extends Parameters<typeof fromBinary>[0]>(
  message: LinkMessage,
  schema: S,
  edit: (inner: ReturnType<typeof fromBinary<S>>) => void,
): LinkMessage {
  return editWrapper(message, (w) => {
    const inner = fromBinary(schema, w.contents);
    edit(inner as ReturnType<typeof fromBinary<S>>);
    w.contents = toBinary(schema, create(schema, inner as never));
    w.messageSize = w.contents.length;
  });
}

type Tamper = (message: LinkMessage, index: number) => LinkMessage[];

/**
 * Starts the card serving a fresh memory link; returns the phone's end and the errors the card
 * reported. `phone`/`card` tamper with what that side sends.
 */
export function connect(card: CardSimulator, options: { clock?: Clock; phone?: Tamper; card?: Tamper } = {}) {
  const [phoneEnd, cardEnd] = createMemoryLinkPair(options.clock);
  const phoneLink: Link = options.phone ? new TamperLink(phoneEnd, options.phone) : phoneEnd;
  const cardLink: Link = options.card ? new TamperLink(cardEnd, options.card) : cardEnd;
  const errors: PairkitError[] = [];
  const served = card.serve(cardLink, { onError: (e) => errors.push(e) });
  return { phoneLink, cardLink, errors, served };
}

/**
 * A phone written against docs/protocol.md §4.5 from the exported building blocks, for attacks
 * the SDK's own phone will not make: it runs the handshake in pairing mode and returns the keyed
 * channel without binding a user.
 */
export async function scriptedHandshake(
  crypto: Crypto,
  link: Link,
  identity: P256KeyPair,
  options: { reconnect?: boolean; sessionStartTime?: bigint } = {},
): Promise<CardChannel> {
  const sessionId = crypto.randomBytes(16);
  const channel = new CardChannel({
    link,
    crypto,
    role: CardRole.phone,
    sessionId,
    sessionStartTime: options.sessionStartTime ?? 1n,
    timeoutMs: 1000,
  });
  const phoneNonce = crypto.randomBytes(32);
  await channel.send(ActiveCardEvent.NONCE_RESPONSE, NonceResponseSchema, { nonce: phoneNonce });
  await expectMessage(channel, "challenge", ActiveCardEvent.SIGNED_NONCE);
  await channel.send(ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT, SignatureVerificationResultSchema, {
    valid: true,
  });
  await channel.send(ActiveCardEvent.SEND_IDENTITY_PUBLIC_KEY, IdentityPublicKeySchema, {
    pubkey: identity.publicKey,
    source: "mobile",
    reconnect: options.reconnect ?? false,
  });
  await channel.send(ActiveCardEvent.NONCE_REQUEST);
  const cardNonce = decodeBody(
    NonceResponseSchema,
    await expectMessage(channel, "challenge", ActiveCardEvent.NONCE_RESPONSE),
    "challenge",
  ).nonce;
  const signerNonce = crypto.randomBytes(32);
  await channel.send(ActiveCardEvent.SIGNED_NONCE, SignedNonceSchema, {
    signature: crypto.ecdsaSign(
      identity.privateKey,
      challengeMessage({ signer: CardRole.phone, sessionId, verifierNonce: cardNonce, signerNonce }),
    ),
    signerNonce,
  });
  await expectMessage(channel, "challenge", ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT);
  const ephemeral = crypto.generateKeyPair();
  await channel.send(ActiveCardEvent.SEND_ECDH_PUBLIC_KEY, ECDHPublicKeySchema, {
    pubkey: ephemeral.publicKey,
    source: "mobile",
    signature: crypto.ecdsaSign(
      identity.privateKey,
      ephemeralKeyMessage({
        signer: CardRole.phone,
        sessionId,
        phoneNonce,
        cardNonce,
        ephemeralPublicKey: ephemeral.publicKey,
      }),
    ),
  });
  const cardEphemeral = decodeBody(
    ECDHPublicKeySchema,
    await expectMessage(channel, "ecdh", ActiveCardEvent.SEND_ECDH_PUBLIC_KEY),
    "ecdh",
  );
  channel.secure(
    deriveCardSessionKey(crypto, {
      sharedSecret: crypto.ecdh(ephemeral.privateKey, cardEphemeral.pubkey),
      sessionId,
      phoneEphemeralPublicKey: ephemeral.publicKey,
      cardEphemeralPublicKey: cardEphemeral.pubkey,
    }),
  );
  await channel.send(ActiveCardEvent.ECDH_EXCHANGE_ACK, ECDHExchangeAckSchema, { success: true });
  await expectMessage(channel, "ecdh", ActiveCardEvent.ECDH_EXCHANGE_ACK);
  return channel;
}
