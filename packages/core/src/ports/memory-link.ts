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

export class MemoryLink implements Link {
  peer: MemoryLink | undefined;
  securedWith: Uint8Array | undefined;
  #closed = false;
  readonly #queue: LinkMessage[] = [];
  readonly #waiters: Array<{ resolve: (m: LinkMessage) => void; reject: (e: unknown) => void }> = [];

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
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (m: LinkMessage) => {
          cleanup();
          resolve(m);
        },
        reject: (e: unknown) => {
          cleanup();
          reject(e);
        },
      };
      const cancelTimer = this.clock.setTimeout(
        () => waiter.reject(new TimeoutError("receive", timeoutMs)),
        timeoutMs,
      );
      const onAbort = () => waiter.reject(new AbortedError({ cause: signal?.reason }));
      signal?.addEventListener("abort", onAbort, { once: true });
      const cleanup = () => {
        cancelTimer();
        signal?.removeEventListener("abort", onAbort);
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
      };
      this.#waiters.push(waiter);
    });
  }

  secure(key: Uint8Array): void {
    this.securedWith = key.slice();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of [...this.#waiters]) waiter.reject(new TransportError("DISCONNECTED", "link closed"));
    await this.peer?.close();
  }

  #deliver(message: LinkMessage): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(message);
    else this.#queue.push(message);
  }
}
