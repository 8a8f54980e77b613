/**
 * A set of callbacks with an unsubscribe handle; one listener throwing does not starve the others.
 * Its error goes to `onError`, or is rethrown outside the emitter's call stack.
 */
export class Listeners<A extends unknown[]> {
  readonly #set = new Set<(...args: A) => void>();

  constructor(private readonly onError?: (error: unknown) => void) {}

  add(listener: (...args: A) => void): () => void {
    this.#set.add(listener);
    return () => this.#set.delete(listener);
  }

  emit(...args: A): void {
    for (const listener of [...this.#set]) {
      try {
        listener(...args);
      } catch (error) {
        if (this.onError) this.onError(error);
        else
          queueMicrotask(() => {
            throw error;
          });
      }
    }
  }

  get size(): number {
    return this.#set.size;
  }

  clear(): void {
    this.#set.clear();
  }
}
