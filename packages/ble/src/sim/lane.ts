import type { Clock } from "@pairkit/core";

/**
 * One direction of a simulated connection: each PDU arrives one hop (a connection interval plus
 * any injected delay) after the previous one left, in order, as on a real link layer. Dropping
 * the lane cancels what is still in flight.
 */
export class Lane {
  #lastDue = Number.NEGATIVE_INFINITY;
  readonly #pending = new Set<() => void>();
  #dropped = false;

  constructor(
    private readonly clock: Clock,
    private readonly hopMs: () => number,
  ) {}

  send(arrive: () => void): void {
    if (this.#dropped) return;
    const now = this.clock.now();
    const due = Math.max(now, this.#lastDue) + this.hopMs();
    this.#lastDue = due;
    const cancel = this.clock.setTimeout(() => {
      this.#pending.delete(cancel);
      arrive();
    }, due - now);
    this.#pending.add(cancel);
  }

  drop(): void {
    this.#dropped = true;
    for (const cancel of this.#pending) cancel();
    this.#pending.clear();
  }
}
