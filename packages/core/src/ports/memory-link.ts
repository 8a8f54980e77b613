import { AbortedError, TimeoutError, TransportError } from "../errors.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { Link, LinkMessage, ReceiveOptions } from "./link.ts";

/**
 * Two in-process {@link Link}s joined back to back: what one sends, the other receives, in
 * order. For protocol unit tests and for running both peers in one process; transport
 * behaviour (MTU, chunking, radio faults, link encryption) lives in @pairkit/ble, so `secure()`
 * only records the key here.
 */
export function createMemoryLinkPair(clock: Clock = systemClock): [MemoryLink, MemoryLink] {
  const a = new MemoryLink(clock);
  const b = new MemoryLink(clock);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A pending receive: settled once, by a message, its timeout, its signal or the link closing. */
interface Waiter {
  readonly resolve: (message: LinkMessage) => void;
  readonly reject: (error: unknown) => void;
  readonly cancelTimer: () => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

export class MemoryLink implements Link {
  peer: MemoryLink | undefined;
  securedWith: Uint8Array | undefined;
  #closed = false;
  readonly #queue: LinkMessage[] = [];
  readonly #waiters: Waiter[] = [];

  constructor(private readonly clock: Clock) {}

  get closed(): boolean {
    return this.#closed;
  }

  async send(message: LinkMessage): Promise<void> {
    if (this.#closed || !this.peer || this.peer.#closed)
      throw new TransportError("NOT_CONNECTED", "link closed");
    this.peer.#deliver({ type: message.type, payload: message.payload.slice() });
  }

  receive({ timeoutMs, signal }: ReceiveOptions): Promise<LinkMessage> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(new TransportError("NOT_CONNECTED", "link closed"));
    // One closure per timer and per signal, none per settlement: a handshake receives often.
    return new Promise((resolve, reject) => {
      const onAbort = signal && (() => this.#settle(waiter, new AbortedError({ cause: signal.reason })));
      const waiter: Waiter = {
        resolve,
        reject,
        cancelTimer: this.clock.setTimeout(
          () => this.#settle(waiter, new TimeoutError("receive", timeoutMs)),
          timeoutMs,
        ),
        signal,
        onAbort,
      };
      if (onAbort) signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  secure(key: Uint8Array): void {
    this.securedWith = key.slice();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of [...this.#waiters]) {
      this.#settle(waiter, new TransportError("DISCONNECTED", "link closed"));
    }
    await this.peer?.close();
  }

  #deliver(message: LinkMessage): void {
    const waiter = this.#waiters[0];
    if (waiter) this.#settle(waiter, undefined, message);
    else this.#queue.push(message);
  }

  /** Removes the waiter and settles it with `message`, or rejects it with `error`. */
  #settle(waiter: Waiter, error: unknown, message?: LinkMessage): void {
    const index = this.#waiters.indexOf(waiter);
    if (index < 0) return;
    this.#waiters.splice(index, 1);
    waiter.cancelTimer();
    if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    if (message) waiter.resolve(message);
    else waiter.reject(error);
  }
}
