import { concatBytes } from "@pairkit/core";
import { decodeFrame } from "./frame-codec.ts";
import { FrameError } from "./frame-error.ts";
import type { FrameHeader } from "./frame-header.ts";

/** Default cap on a reassembled message body (sealed overhead included). */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024;

/** A whole message as the frames carried it; `body` is still sealed when `flags` says encrypted. */
export interface AssembledMessage {
  readonly type: number;
  readonly totalSeq: number;
  readonly flags: number;
  readonly body: Uint8Array;
}

export interface ReassemblerOptions {
  /** Largest message body accepted, in bytes; a message growing past it is rejected at once. */
  readonly maxMessageSize?: number;
}

interface PartialMessage {
  readonly first: FrameHeader;
  readonly chunks: Uint8Array[];
  size: number;
}

/**
 * Turns frames, in arrival order, back into messages (docs/protocol.md §2.4). Chunks must
 * arrive in order, 0 to totalSeq − 1, with no other message in between; BLE delivers writes
 * and notifications in order, so anything else is loss or tampering. Every violation throws a
 * {@link FrameError} and drops the partial message, so the next message starts clean.
 * Time is not its business: the link arms the missing-chunk timer while {@link inProgress}.
 */
export class Reassembler {
  readonly maxMessageSize: number;
  #partial: PartialMessage | undefined;

  constructor(options: ReassemblerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /** Whether some chunks of a message have arrived and more are expected. */
  get inProgress(): boolean {
    return this.#partial !== undefined;
  }

  /** Takes one frame; returns the message it completes, if any. */
  push(frame: Uint8Array): AssembledMessage | undefined {
    try {
      return this.#accept(frame);
    } catch (error) {
      this.reset();
      throw error;
    }
  }

  /** Drops any partial message (missing-chunk timeout, disconnect). */
  reset(): void {
    this.#partial = undefined;
  }

  #accept(frame: Uint8Array): AssembledMessage | undefined {
    const { header, body } = decodeFrame(frame);
    const partial = this.#partial ?? this.#start(header);
    const expected = partial.chunks.length;
    const { first } = partial;
    if (header.type !== first.type || header.totalSeq !== first.totalSeq || header.flags !== first.flags) {
      throw new FrameError("HEADER_CHANGED", `chunk ${header.seq} does not match the header of chunk 0`);
    }
    if (header.seq < expected) throw new FrameError("DUPLICATE_CHUNK", `chunk ${header.seq} arrived twice`);
    if (header.seq > expected) {
      throw new FrameError("MISSING_CHUNK", `chunk ${header.seq} arrived but chunk ${expected} is missing`);
    }
    const last = header.seq === header.totalSeq - 1;
    if (body.length === 0 && !last) {
      throw new FrameError("EMPTY_CHUNK", `chunk ${header.seq} of ${header.totalSeq} is empty`);
    }
    partial.size += body.length;
    if (partial.size > this.maxMessageSize) {
      throw new FrameError("MESSAGE_TOO_LARGE", `message exceeds ${this.maxMessageSize} bytes`);
    }
    // A copy, not a view: BLE adapters hand over Node Buffers, whose slice() shares memory and
    // whose backing store they may reuse for the next notification.
    partial.chunks.push(new Uint8Array(body));
    if (!last) return undefined;
    this.#partial = undefined;
    return {
      type: first.type,
      totalSeq: first.totalSeq,
      flags: first.flags,
      body: concatBytes(...partial.chunks),
    };
  }

  #start(first: FrameHeader): PartialMessage {
    const partial: PartialMessage = { first, chunks: [], size: 0 };
    this.#partial = partial;
    return partial;
  }
}
