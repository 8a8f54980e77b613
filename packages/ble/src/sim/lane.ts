import type { Clock } from "@pairkit/core";

/**
 * One direction of a simulated connection: each PDU arrives one hop (a connection interval plus
 * any injected delay) after the previous one left, in order, as on a real link layer. Dropping
 * the lane cancels what is still in flight.
 *
 * One timer at a time, armed for the oldest PDU: timers of different lengths set at different
 * moments may fire out of order (Node measures each from its loop's cached time, which lags under
 * load by more than a 2 ms hop), and a link layer never reorders.
 */
export class Lane {
  #lastDue = Number.NEGATIVE_INFINITY;
  readonly #queue: { readonly due: number; readonly arrive: () => void }[] = [];
  #cancelTimer: (() => void) | undefined;
  #dropped = false;

  constructor(
    private readonly clock: Clock,
    private readonly hopMs: () => number,
  ) {}

  send(arrive: () => void): void {
    if (this.#dropped) return;
    const due = Math.max(this.clock.now(), this.#lastDue) + this.hopMs();
    this.#lastDue = due;
    this.#queue.push({ due, arrive });
    if (!this.#cancelTimer) this.#arm();
  }

  drop(): void {
    this.#dropped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#queue.length = 0;
  }

  #arm(): void {
    const head = this.#queue[0];
    if (!head) return;
    this.#cancelTimer = this.clock.setTimeout(
      () => {
        this.#cancelTimer = undefined;
        const next = this.#queue.shift();
        // The next PDU's timer first, so a PDU sent from inside `arrive` queues behind it.
        this.#arm();
        next?.arrive();
      },
      Math.max(0, head.due - this.clock.now()),
    );
  }
}
