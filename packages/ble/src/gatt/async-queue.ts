/**
 * A push-to-pull queue behind an async iterator: producers `push` and `end`/`fail`; one consumer
 * iterates. Used for scan results, which arrive from radio callbacks.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  #waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  #done = false;
  #error: unknown;
  #hasError = false;
  readonly #onReturn: () => void;

  /** `onReturn` runs once when the consumer stops early or the queue ends: release the producer there. */
  constructor(onReturn: () => void) {
    let called = false;
    this.#onReturn = () => {
      if (called) return;
      called = true;
      onReturn();
    };
  }

  push(item: T): void {
    if (this.#done) return;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter.resolve({ value: item, done: false });
    else this.#items.push(item);
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#onReturn();
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
  }

  fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#onReturn();
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter.reject(error);
    else {
      this.#error = error;
      this.#hasError = true;
    }
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.#done) {
      if (this.#hasError) {
        this.#hasError = false;
        return Promise.reject(this.#error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  async return(): Promise<IteratorResult<T>> {
    this.#items.length = 0;
    this.end();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
