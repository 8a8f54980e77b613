import { AbortedError, TimeoutError } from "../errors.ts";
import type { Clock } from "./clock.ts";

/** A pending take: settled once, by an item, its timeout, its signal or the inbox closing. */
interface Waiter<T> {
  readonly resolve: (item: T) => void;
  readonly reject: (error: unknown) => void;
  readonly cancelTimer: () => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

/**
 * What a link has received and who is waiting for it: items go to the oldest waiting `take`, or
 * queue until one comes; each take has its own timeout and abort signal. The receive side of
 * every `Link` (in-memory, framed BLE) is one of these.
 */
export class Inbox<T> {
  readonly #queue: T[] = [];
  readonly #waiters: Waiter<T>[] = [];
  #closed: { readonly later: unknown } | undefined;

  constructor(private readonly clock: Clock) {}

  /** Items received and not yet taken. */
  get size(): number {
    return this.#queue.length;
  }

  /** Hands `item` to the oldest waiting take, or queues it. */
  push(item: T): void {
    const waiter = this.#waiters[0];
    if (waiter) this.#settle(waiter, undefined, item);
    else this.#queue.push(item);
  }

  /**
   * The oldest queued item, or the next one pushed. Rejects with `TimeoutError` after `timeoutMs`,
   * `AbortedError` when `signal` aborts, and — once closed and empty — with the inbox's error.
   */
  take({ timeoutMs, signal }: { readonly timeoutMs: number; readonly signal?: AbortSignal }): Promise<T> {
    if (signal?.aborted) return Promise.reject(new AbortedError({ cause: signal.reason }));
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift() as T);
    if (this.#closed) return Promise.reject(this.#closed.later);
    // One closure per timer and per signal, none per settlement: a handshake receives often.
    return new Promise((resolve, reject) => {
      const onAbort = signal && (() => this.#settle(waiter, new AbortedError({ cause: signal.reason })));
      const waiter: Waiter<T> = {
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

  /**
   * Rejects every waiting take with `waiting`; queued items stay takeable, and after them every
   * take rejects with `later`. Only the first close counts.
   */
  close(waiting: unknown, later: unknown): void {
    if (this.#closed) return;
    this.#closed = { later };
    for (const waiter of [...this.#waiters]) this.#settle(waiter, waiting);
  }

  /** Drops what was received and not taken. */
  clear(): void {
    this.#queue.length = 0;
  }

  /** Removes the waiter and settles it with `item`, or rejects it with `error`. */
  #settle(waiter: Waiter<T>, error: unknown, item?: T): void {
    const index = this.#waiters.indexOf(waiter);
    if (index < 0) return;
    this.#waiters.splice(index, 1);
    waiter.cancelTimer();
    if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    if (error === undefined) waiter.resolve(item as T);
    else waiter.reject(error);
  }
}
