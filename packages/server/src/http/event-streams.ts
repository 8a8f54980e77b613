import { PassThrough } from "node:stream";
import type { Clock } from "@pairkit/core";
import { ApiError } from "../errors.ts";

export interface EventStreamsOptions {
  readonly clock: Clock;
  /** Streams open at once; one more gets 503 SERVER_BUSY. */
  readonly max: number;
  /** A `: ping` comment this often keeps proxies from closing an idle stream. */
  readonly pingIntervalMs: number;
  /** A client that stops reading is dropped once this much is waiting for it. */
  readonly maxBufferedBytes: number;
}

/** One text/event-stream reply body (WHATWG HTML §9.2 wire format). */
export class EventStream {
  /** What the route sends as the reply; Fastify pipes it and destroys it when the client goes away. */
  readonly body = new PassThrough();
  readonly #maxBufferedBytes: number;

  constructor(maxBufferedBytes: number) {
    this.#maxBufferedBytes = maxBufferedBytes;
  }

  send(event: string, data: unknown): void {
    // JSON.stringify never emits a raw newline, so the data fits on one `data:` line.
    this.#write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    this.#write(`: ${text}\n\n`);
  }

  /** Runs `fn` once the stream is over, however it ended (client gone, server closing, dropped). */
  onClose(fn: () => void): void {
    this.body.once("close", fn);
  }

  /** Ends the response cleanly: the client sees the end of the body. */
  end(): void {
    if (!this.body.writableEnded) this.body.end();
  }

  #write(chunk: string): void {
    if (this.body.destroyed || this.body.writableEnded) return;
    this.body.write(chunk);
    // Both halves of the PassThrough hold what the socket has not taken yet.
    if (this.body.writableLength + this.body.readableLength > this.#maxBufferedBytes) this.body.destroy();
  }
}

/**
 * The open server-sent event streams of one server: bounded in number, pinged while idle, and all
 * ended by `closeAll()` so that shutting the server down never waits for a client to hang up.
 */
export class EventStreams {
  readonly #options: EventStreamsOptions;
  readonly #open = new Set<EventStream>();
  #closing = false;

  constructor(options: EventStreamsOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#open.size;
  }

  /** A new stream, already carrying a first comment so the client gets the headers at once. */
  open(): EventStream {
    if (this.#closing) throw new ApiError("NOT_READY", "the server is shutting down");
    if (this.#open.size >= this.#options.max) {
      throw new ApiError("SERVER_BUSY", "too many event streams are open", { retryAfter: 5 });
    }
    const stream = new EventStream(this.#options.maxBufferedBytes);
    this.#open.add(stream);
    const { clock, pingIntervalMs } = this.#options;
    let cancelPing = () => {};
    const ping = () => {
      stream.comment("ping");
      cancelPing = clock.setTimeout(ping, pingIntervalMs);
    };
    cancelPing = clock.setTimeout(ping, pingIntervalMs);
    stream.onClose(() => {
      cancelPing();
      this.#open.delete(stream);
    });
    stream.comment("connected");
    return stream;
  }

  closeAll(): void {
    this.#closing = true;
    for (const stream of this.#open) stream.end();
  }
}
