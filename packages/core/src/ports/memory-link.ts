import { TransportError } from "../errors.ts";
import { type Clock, systemClock } from "./clock.ts";
import { Inbox } from "./inbox.ts";
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
  readonly #inbox: Inbox<LinkMessage>;

  constructor(clock: Clock) {
    this.#inbox = new Inbox(clock);
  }

  get closed(): boolean {
    return this.#closed;
  }

  async send(message: LinkMessage): Promise<void> {
    if (this.#closed || !this.peer || this.peer.#closed)
      throw new TransportError("NOT_CONNECTED", "link closed");
    this.peer.#inbox.push({ type: message.type, payload: message.payload.slice() });
  }

  receive(options: ReceiveOptions): Promise<LinkMessage> {
    return this.#inbox.take(options);
  }

  secure(key: Uint8Array): void {
    this.securedWith = key.slice();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox.close(
      new TransportError("DISCONNECTED", "link closed"),
      new TransportError("NOT_CONNECTED", "link closed"),
    );
    await this.peer?.close();
  }
}
