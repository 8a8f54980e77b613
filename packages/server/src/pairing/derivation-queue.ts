import { ApiError } from "../errors.ts";

/**
 * Bounds the scrypt work in flight. node:crypto's scrypt already runs on libuv's thread pool, so
 * the event loop never blocks; what must be bounded is how much waits. At most `concurrency` jobs
 * run, at most `maxQueue` wait, and beyond that a request is refused at once with SERVER_BUSY and
 * a Retry-After estimate instead of joining an unbounded line.
 */
export class DerivationQueue {
  readonly #concurrency: number;
  readonly #maxQueue: number;
  readonly #waiting: (() => void)[] = [];
  #running = 0;
  /** Recent job duration, for Retry-After; seeded with a typical N=32768 scrypt on a slow core. */
  #averageMs = 250;

  constructor(concurrency: number, maxQueue: number) {
    this.#concurrency = concurrency;
    this.#maxQueue = maxQueue;
  }

  /** Jobs waiting for a slot (the metric `password derivation queue depth`). */
  get depth(): number {
    return this.#waiting.length;
  }

  get running(): number {
    return this.#running;
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) {
      if (this.#waiting.length >= this.#maxQueue) {
        const drainSeconds = ((this.#waiting.length + 1) * this.#averageMs) / this.#concurrency / 1000;
        throw new ApiError("SERVER_BUSY", "password derivation queue is full", {
          retryAfter: Math.max(1, Math.ceil(drainSeconds)),
        });
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    const started = performance.now();
    try {
      return await job();
    } finally {
      this.#averageMs = 0.8 * this.#averageMs + 0.2 * (performance.now() - started);
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter; `running` only drops when nobody waits.
      if (next) next();
      else this.#running--;
    }
  }
}
