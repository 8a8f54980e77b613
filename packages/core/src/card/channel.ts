import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { concatBytes, constantTimeEqual, wipe } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { DecryptionError } from "../errors.ts";
import type { Link, LinkMessage } from "../ports/link.ts";
import { type CardPhase, CardProtocolError } from "./errors.ts";
import type { ActiveCardEvent } from "./gen/pairkit/activecard/v1/active_card_pb.ts";
import { CardRole } from "./signed-messages.ts";
import {
  CARD_IV_LENGTH,
  CARD_LINK_MESSAGE_TYPE,
  CARD_TAG_LENGTH,
  cardIv,
  decodeWrapper,
  encodeWrapper,
  type WrapperFields,
  wrapperAad,
} from "./wrapper-codec.ts";

/** One received message after the wrapper checks and, once the session is keyed, decryption. */
export interface CardMessage {
  readonly type: ActiveCardEvent;
  readonly body: Uint8Array;
  readonly encrypted: boolean;
}

/** Checks the Link framing and decodes the wrapper; used for a session's first message. */
export function decodeLinkMessage(message: LinkMessage, phase: CardPhase): WrapperFields {
  if (message.type !== CARD_LINK_MESSAGE_TYPE) {
    throw new CardProtocolError("LINK_MESSAGE_TYPE", phase, `link message type ${message.type} is not 0x30`);
  }
  return decodeWrapper(message.payload, phase);
}

/** Parses an inner message; any protobuf failure is MALFORMED_MESSAGE. */
export function decodeBody<Desc extends DescMessage>(
  schema: Desc,
  message: CardMessage,
  phase: CardPhase,
): MessageShape<Desc> {
  try {
    return fromBinary(schema, message.body, { readUnknownFields: false });
  } catch (cause) {
    throw new CardProtocolError("MALFORMED_MESSAGE", phase, `${schema.typeName} is not valid protobuf`, {
      cause,
    });
  }
}

export interface CardChannelOptions {
  readonly link: Link;
  readonly crypto: Crypto;
  /** This side's role; its byte is the direction byte of the ivs it sends. */
  readonly role: CardRole;
  readonly sessionId: Uint8Array;
  readonly sessionStartTime: bigint;
  /** Per-message receive deadline. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * One Active Card session over a Link: wraps inner messages in TransportMessageWrapper,
 * checks every received wrapper belongs to the session, and after {@link secure} seals and
 * opens each message with AES-256-GCM under a per-direction counter that must advance by
 * exactly one (replays and reordering are rejected before decryption is even tried).
 */
export class CardChannel {
  readonly sessionId: Uint8Array;
  readonly sessionStartTime: bigint;
  readonly #options: CardChannelOptions;
  readonly #peerDirection: number;
  #key: Uint8Array | undefined;
  #sendCounter = 0n;
  #receiveCounter = 0n;
  #destroyed = false;

  constructor(options: CardChannelOptions) {
    this.#options = options;
    this.sessionId = options.sessionId.slice();
    this.sessionStartTime = options.sessionStartTime;
    this.#peerDirection = options.role === CardRole.phone ? CardRole.card : CardRole.phone;
  }

  get link(): Link {
    return this.#options.link;
  }

  /** True once the session key is installed: everything after is encrypted both ways. */
  get keyed(): boolean {
    return this.#key !== undefined;
  }

  /**
   * Installs the session key (the channel keeps a copy and wipes it on destroy). Once only: a
   * second key would restart both counters under it, so it is refused, as on the owner link.
   */
  secure(key: Uint8Array): void {
    this.#checkOpen();
    if (this.#key)
      throw new CardProtocolError("ALREADY_SECURED", "ecdh", "the session key is already installed");
    this.#key = key.slice();
  }

  async send<Desc extends DescMessage>(
    type: ActiveCardEvent,
    schema?: Desc,
    init?: MessageInitShape<Desc>,
  ): Promise<void> {
    this.#checkOpen();
    const body = schema ? toBinary(schema, create(schema, init)) : new Uint8Array(0);
    const header = {
      messageType: type,
      messageSize: body.length,
      sessionId: this.sessionId,
      sessionStartTime: this.sessionStartTime,
    };
    let wrapper: Uint8Array;
    if (this.#key) {
      const iv = cardIv(this.#options.role, this.#sendCounter);
      this.#sendCounter++;
      const sealed = this.#options.crypto.aesGcmEncrypt(this.#key, iv, body, wrapperAad(header, iv));
      const split = sealed.length - CARD_TAG_LENGTH;
      wrapper = encodeWrapper({
        ...header,
        contents: sealed.subarray(0, split),
        sealed: { iv, tag: sealed.subarray(split) },
      });
    } else {
      wrapper = encodeWrapper({ ...header, contents: body });
    }
    const { signal } = this.#options;
    await this.#options.link.send(
      { type: CARD_LINK_MESSAGE_TYPE, payload: wrapper },
      signal ? { signal } : {},
    );
  }

  /** The next message of this session, authenticated and decrypted once keyed. */
  async receive(phase: CardPhase, timeoutMs = this.#options.timeoutMs): Promise<CardMessage> {
    return this.open(await this.receiveWrapper(phase, timeoutMs), phase);
  }

  /** The next wrapper, decoded but not yet checked against the session or opened. */
  async receiveWrapper(phase: CardPhase, timeoutMs = this.#options.timeoutMs): Promise<WrapperFields> {
    const { signal } = this.#options;
    const message = await this.#options.link.receive(signal ? { timeoutMs, signal } : { timeoutMs });
    return decodeLinkMessage(message, phase);
  }

  /** Checks a decoded wrapper against the session and opens it. */
  open(wrapper: WrapperFields, phase: CardPhase): CardMessage {
    this.#checkOpen();
    if (
      !constantTimeEqual(wrapper.sessionId, this.sessionId) ||
      wrapper.sessionStartTime !== this.sessionStartTime
    ) {
      throw new CardProtocolError("SESSION_MISMATCH", phase, "wrapper belongs to another session");
    }
    if (!this.#key) {
      if (wrapper.sealed) {
        throw new CardProtocolError("MALFORMED_MESSAGE", phase, "encrypted message before the session key");
      }
      return { type: wrapper.messageType, body: wrapper.contents, encrypted: false };
    }
    if (!wrapper.sealed)
      throw new CardProtocolError("NOT_ENCRYPTED", phase, "plaintext message in a keyed session");
    const { iv, tag } = wrapper.sealed;
    const view = new DataView(iv.buffer, iv.byteOffset, CARD_IV_LENGTH);
    if (view.getUint32(0) !== this.#peerDirection << 24) {
      throw new CardProtocolError("MALFORMED_MESSAGE", phase, "iv direction is not the peer's");
    }
    const counter = view.getBigUint64(4);
    if (counter < this.#receiveCounter) {
      throw new CardProtocolError("REPLAYED_MESSAGE", phase, `counter ${counter} already used`);
    }
    if (counter > this.#receiveCounter) {
      throw new CardProtocolError(
        "REORDERED_MESSAGE",
        phase,
        `counter ${counter}, expected ${this.#receiveCounter}`,
      );
    }
    let body: Uint8Array;
    try {
      body = this.#options.crypto.aesGcmDecrypt(
        this.#key,
        iv,
        concatBytes(wrapper.contents, tag),
        wrapperAad(wrapper, iv),
      );
    } catch (cause) {
      if (!(cause instanceof DecryptionError)) throw cause;
      throw new CardProtocolError("DECRYPTION_FAILED", phase, "message failed authentication", { cause });
    }
    this.#receiveCounter++;
    return { type: wrapper.messageType, body, encrypted: true };
  }

  /** Wipes the session key; the channel cannot send or receive encrypted messages after. */
  destroy(): void {
    wipe(this.#key);
    this.#key = undefined;
    this.#destroyed = true;
  }

  // A destroyed channel must never fall back to plaintext.
  #checkOpen(): void {
    if (this.#destroyed) throw new CardProtocolError("SESSION_CLOSED", "session", "session was closed");
  }
}
