import {
  AbortedError,
  type Clock,
  type Crypto,
  Inbox,
  type Link,
  type LinkMessage,
  PairkitError,
  type ReceiveOptions,
  systemClock,
  TransportError,
} from "@pairkit/core";
import type { FrameChannel } from "./frame-channel.ts";
import { chunkMessage, frameCount } from "./framing/chunker.ts";
import {
  type LinkRole,
  MessageOpener,
  MessageSealer,
  receiveDirection,
  SEALED_OVERHEAD,
  sendDirection,
} from "./framing/frame-crypto.ts";
import { FrameError } from "./framing/frame-error.ts";
import { FrameFlags, MIN_FRAME_SIZE } from "./framing/frame-header.ts";
import { frameSizeForMtu, negotiateFrameSize } from "./framing/frame-size.ts";
import { FrameType, isLinkControlType, isMessageType } from "./framing/frame-type.ts";
import { decodeLinkParams, encodeLinkParams } from "./framing/link-params.ts";
import { type AssembledMessage, DEFAULT_MAX_MESSAGE_SIZE, Reassembler } from "./framing/reassembler.ts";
import { MISSING_CHUNK_TIMEOUT_MS } from "./framing/timeouts.ts";

/** Messages (or receive errors) held for a protocol that is not reading; past it the link closes. */
export const DEFAULT_MAX_QUEUED_MESSAGES = 32;

export interface FramedLinkOptions {
  /** Central = GATT client, writes (the phone); peripheral = GATT server, notifies (vehicle, card). */
  readonly role: LinkRole;
  readonly crypto: Crypto;
  readonly clock?: Clock;
  /** Largest message body sent or accepted, sealed overhead included (default 16 KiB). */
  readonly maxMessageSize?: number;
  /** Silence between two chunks of one message before it is dropped (default 5 s, seed 001 §2). */
  readonly missingChunkTimeoutMs?: number;
  readonly maxQueuedMessages?: number;
}

type Inbound = { readonly message: AssembledMessage } | { readonly error: unknown };

/**
 * A {@link Link} of whole messages over one {@link FrameChannel} (docs/protocol.md §2): chunks
 * each message into frames that fit one ATT operation, reassembles what arrives, announces and
 * learns the usable frame size with LINK_PARAMS, and after {@link secure} seals every message
 * under Kenc with per-direction counters.
 *
 * Frames are reassembled as they arrive; sealed messages are opened only when `receive()` takes
 * them, so that a message the peer sealed right after its own `secure()` waits for ours.
 * A send that fails or is aborted once accepted closes the link, since the peer's reassembler
 * and counter can no longer match ours.
 */
export class FramedLink implements Link {
  readonly role: LinkRole;
  readonly #channel: FrameChannel;
  readonly #crypto: Crypto;
  readonly #clock: Clock;
  readonly #reassembler: Reassembler;
  readonly #missingChunkTimeoutMs: number;
  readonly #maxQueued: number;
  readonly #inbox: Inbox<Inbound>;
  readonly #unsubscribe: Array<() => void>;
  #peerFrameSize: number | undefined;
  #announced = false;
  #sealer: MessageSealer | undefined;
  #opener: MessageOpener | undefined;
  #sending: Promise<void> = Promise.resolve();
  #cancelChunkTimer: (() => void) | undefined;
  #closedBy: TransportError | undefined;

  constructor(channel: FrameChannel, options: FramedLinkOptions) {
    this.role = options.role;
    this.#channel = channel;
    this.#crypto = options.crypto;
    this.#clock = options.clock ?? systemClock;
    this.#inbox = new Inbox(this.#clock);
    this.#reassembler = new Reassembler({
      maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    });
    this.#missingChunkTimeoutMs = options.missingChunkTimeoutMs ?? MISSING_CHUNK_TIMEOUT_MS;
    this.#maxQueued = options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES;
    this.#unsubscribe = [
      channel.onFrame((frame) => this.#onFrame(frame)),
      channel.onClose((cause) => this.#onChannelClose(cause)),
    ];
  }

  get closed(): boolean {
    return this.#closedBy !== undefined;
  }

  /** Whether {@link secure} has switched the link to encryption. */
  get secured(): boolean {
    return this.#sealer !== undefined;
  }

  /** The size of the frames the next message will be cut into (docs/protocol.md §2.5). */
  get frameSize(): number {
    return negotiateFrameSize(frameSizeForMtu(this.#channel.mtu), this.#peerFrameSize);
  }

  send(message: LinkMessage, options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      if (this.#closedBy) throw new TransportError("NOT_CONNECTED", "link closed", { cause: this.#closedBy });
      const { signal } = options;
      if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
      if (!isMessageType(message.type)) {
        throw new FrameError(
          "UNKNOWN_TYPE",
          `type ${message.type} is not a message type (docs/protocol.md §2.3)`,
        );
      }
      const frames = this.#encodeMessage(message);
      // The central speaks first (seed 001: SELECT), so its first frame tells the peripheral
      // what it can carry, and the peripheral's answer tells a central that cannot read its MTU.
      if (this.role === "central" && !this.#announced) {
        this.#announced = true;
        frames.unshift(...this.#linkParamsFrames());
      }
      return this.#transmit(frames, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  receive(options: ReceiveOptions): Promise<LinkMessage> {
    return this.#inbox.take(options).then((item) => this.#settle(item));
  }

  /**
   * Switches both directions to AES-GCM under `kenc` (§2.6): messages passed to `send` from now
   * on are sealed, and every message `receive` returns from now on must be sealed. Once only:
   * a second key would restart the counters, so it is refused.
   */
  secure(kenc: Uint8Array): void {
    if (this.#closedBy) throw new TransportError("NOT_CONNECTED", "link closed", { cause: this.#closedBy });
    if (this.#sealer) throw new FrameError("ALREADY_SECURED", "the link is already encrypted");
    const opener = new MessageOpener(this.#crypto, kenc, receiveDirection(this.role));
    this.#sealer = new MessageSealer(this.#crypto, kenc, sendDirection(this.role));
    this.#opener = opener;
  }

  async close(): Promise<void> {
    if (!this.#closedBy) this.#shutdown(new TransportError("DISCONNECTED", "link closed"));
    this.#inbox.clear();
    this.#opener?.destroy();
    await this.#channel.close();
  }

  #encodeMessage({ type, payload }: LinkMessage): Uint8Array[] {
    const frameSize = this.frameSize;
    const sealer = this.#sealer;
    const flags = sealer ? FrameFlags.ENCRYPTED : 0;
    const bodyLength = payload.length + (sealer ? SEALED_OVERHEAD : 0);
    if (bodyLength > this.#reassembler.maxMessageSize) {
      throw new FrameError(
        "MESSAGE_TOO_LARGE",
        `message body of ${bodyLength} bytes exceeds ${this.#reassembler.maxMessageSize}`,
      );
    }
    if (!sealer) return chunkMessage({ type, flags }, payload, frameSize);
    // totalSeq is authenticated, so it is fixed before sealing.
    const totalSeq = frameCount(bodyLength, frameSize);
    return chunkMessage({ type, flags }, sealer.seal({ type, totalSeq, flags }, payload), frameSize);
  }

  #linkParamsFrames(): Uint8Array[] {
    const body = encodeLinkParams({ maxFrameSize: frameSizeForMtu(this.#channel.mtu) });
    return chunkMessage({ type: FrameType.LINK_PARAMS, flags: 0 }, body, MIN_FRAME_SIZE);
  }

  #transmit(frames: readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    const run = this.#sending.then(async () => {
      try {
        for (const frame of frames) {
          if (this.#closedBy)
            throw new TransportError("NOT_CONNECTED", "link closed", { cause: this.#closedBy });
          if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
          await this.#channel.sendFrame(frame, signal ? { signal } : undefined);
        }
      } catch (error) {
        throw this.#sendFailed(error, signal);
      }
    });
    this.#sending = run.catch(() => undefined);
    return run;
  }

  #sendFailed(error: unknown, signal: AbortSignal | undefined): PairkitError {
    const typed =
      error instanceof PairkitError
        ? error
        : signal?.aborted
          ? new AbortedError({ cause: signal.reason })
          : new TransportError("SEND_FAILED", "frame write failed", { cause: error });
    if (!this.#closedBy) {
      this.#shutdown(
        new TransportError("SEND_FAILED", "a message was cut short; link closed", { cause: typed }),
      );
      this.#channel.close().catch(() => undefined);
    }
    return typed;
  }

  #onFrame(frame: Uint8Array): void {
    if (this.#closedBy) return;
    let message: AssembledMessage | undefined;
    try {
      message = this.#reassembler.push(frame);
    } catch (error) {
      this.#stopChunkTimer();
      this.#post({ error });
      return;
    }
    if (!message) {
      this.#armChunkTimer();
      return;
    }
    this.#stopChunkTimer();
    if (isLinkControlType(message.type)) this.#onLinkControl(message);
    else this.#post({ message });
  }

  #onLinkControl(message: AssembledMessage): void {
    try {
      // Link control is never sealed: it must be understood before and after secure(), and a
      // frame size is no secret (docs/protocol.md §2.5).
      if (message.flags & FrameFlags.ENCRYPTED) {
        throw new FrameError("BAD_LINK_PARAMS", "link control messages are never encrypted");
      }
      this.#peerFrameSize = decodeLinkParams(message.body).maxFrameSize;
      // A failed reply closes the link, and receive() reports that.
      if (this.role === "peripheral") this.#transmit(this.#linkParamsFrames()).catch(() => undefined);
    } catch (error) {
      this.#post({ error });
    }
  }

  #armChunkTimer(): void {
    this.#stopChunkTimer();
    this.#cancelChunkTimer = this.#clock.setTimeout(() => {
      this.#cancelChunkTimer = undefined;
      this.#reassembler.reset();
      this.#post({
        error: new FrameError("CHUNK_TIMEOUT", `no next chunk within ${this.#missingChunkTimeoutMs} ms`),
      });
    }, this.#missingChunkTimeoutMs);
  }

  #stopChunkTimer(): void {
    this.#cancelChunkTimer?.();
    this.#cancelChunkTimer = undefined;
  }

  #post(item: Inbound): void {
    if (this.#inbox.size >= this.#maxQueued) {
      this.#shutdown(new TransportError("RECEIVE_OVERFLOW", `more than ${this.#maxQueued} unread messages`));
      this.#channel.close().catch(() => undefined);
      return;
    }
    this.#inbox.push(item);
  }

  #settle(item: Inbound): LinkMessage {
    try {
      return this.#open(item);
    } finally {
      if (this.#closedBy && this.#inbox.size === 0) this.#opener?.destroy();
    }
  }

  #open(item: Inbound): LinkMessage {
    if ("error" in item) throw item.error;
    const { type, flags, body } = item.message;
    const encrypted = (flags & FrameFlags.ENCRYPTED) !== 0;
    if (!this.#opener) {
      if (encrypted) throw new FrameError("NOT_SECURED", "sealed message before the link was secured");
      return { type, payload: body };
    }
    if (!encrypted) {
      // Unauthenticated, so not delivered; the type is named because a peer that rejected our
      // key confirmation can only answer with a plaintext ERROR (0x7f).
      throw new FrameError(
        "NOT_ENCRYPTED",
        `plaintext message of type 0x${type.toString(16)} on a secured link`,
      );
    }
    return { type, payload: this.#opener.open(item.message, body) };
  }

  #onChannelClose(cause: unknown): void {
    if (!this.#closedBy)
      this.#shutdown(new TransportError("DISCONNECTED", "BLE connection closed", { cause }));
  }

  /** Ends the link; messages already reassembled stay readable (a peer may send its last word and hang up). */
  #shutdown(reason: TransportError): void {
    this.#closedBy = reason;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#stopChunkTimer();
    this.#reassembler.reset();
    this.#sealer?.destroy();
    this.#inbox.close(reason, new TransportError("NOT_CONNECTED", "link closed", { cause: reason }));
    if (this.#inbox.size === 0) this.#opener?.destroy();
  }
}
