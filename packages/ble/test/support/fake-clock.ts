import type { Clock } from "@pairkit/core";

/**
 * A manual clock: timers fire only when the test advances time, in due order (ties in the order
 * they were set), with pending promise callbacks run between timers so async code progresses as
 * it would in real time.
 */
export class FakeClock implements Clock {
  #now = 1_700_000_000_000;
  #seq = 0;
  readonly #timers = new Map<number, { due: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const id = this.#seq++;
    this.#timers.set(id, { due: this.#now + Math.max(0, ms), fn });
    return () => this.#timers.delete(id);
  }

  /** Advances time by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#nextTimer();
      if (!next || next[1].due > end) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].due;
      next[1].fn();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /** Advances time in steps until `promise` settles (or `limitMs` passes); returns its outcome. */
  async run<T>(promise: Promise<T>, limitMs = 600_000): Promise<T> {
    let done = false;
    promise.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    const end = this.#now + limitMs;
    await settle();
    while (!done && this.#now < end) {
      const next = this.#nextTimer();
      const step = next ? Math.min(next[1].due, end) - this.#now : end - this.#now;
      await this.advance(Math.max(step, 0));
      if (!next) break;
    }
    return promise;
  }

  get pending(): number {
    return this.#timers.size;
  }

  #nextTimer(): [number, { due: number; fn: () => void }] | undefined {
    let best: [number, { due: number; fn: () => void }] | undefined;
    for (const entry of this.#timers) {
      if (!best || entry[1].due < best[1].due) best = entry;
    }
    return best;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
