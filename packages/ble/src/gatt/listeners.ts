/** A set of callbacks with an unsubscribe handle; one listener throwing does not starve the others. */
export class Listeners<A extends unknown[]> {
  readonly #set = new Set<(...args: A) => void>();

  add(listener: (...args: A) => void): () => void {
    this.#set.add(listener);
    return () => this.#set.delete(listener);
  }

  emit(...args: A): void {
    for (const listener of [...this.#set]) {
      try {
        listener(...args);
      } catch (error) {
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
