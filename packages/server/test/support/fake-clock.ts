import type { Clock } from "@pairkit/core";

/** A clock tests move by hand; timers fire synchronously inside `advance`. */
export class FakeClock implements Clock {
  #now: number;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 0;

  constructor(start = Date.parse("2026-06-01T12:00:00Z")) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return () => this.#timers.delete(id);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    this.#now += ms;
    for (const [id, timer] of [...this.#timers].sort(([, a], [, b]) => a.at - b.at)) {
      if (timer.at > this.#now) continue;
      this.#timers.delete(id);
      timer.fn();
    }
  }
}
