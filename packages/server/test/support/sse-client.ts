import { expect } from "vitest";

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * Reads a text/event-stream the way the web console does (fetch + ReadableStream, token in the
 * Authorization header) and keeps what arrived, so a test can wait for a particular event.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** Settles when the server ends the body (or the client aborts). */
  readonly ended: Promise<void>;
  readonly #abort: AbortController;
  #wake: () => void = () => {};

  private constructor(body: ReadableStream<Uint8Array>, abort: AbortController) {
    this.#abort = abort;
    this.ended = this.#read(body);
  }

  /** Opens the stream; expects 200 with text/event-stream. */
  static async open(url: string, token: string): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    if (response.status !== 200) {
      throw new Error(`event stream refused: ${response.status} ${await response.text()}`);
    }
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const client = new SseClient(response.body!, abort);
    // The server subscribes before it answers; its first comment shows the stream is live.
    while (client.comments.length === 0) await client.#next();
    return client;
  }

  /** Resolves with the first `change` event (past or future) whose data matches. */
  async change(match: { kind: string; id: string }): Promise<number> {
    for (;;) {
      const index = this.events.findIndex(
        (e) => e.event === "change" && JSON.stringify(JSON.parse(e.data)) === JSON.stringify(match),
      );
      if (index >= 0) return index;
      await this.#next();
    }
  }

  close(): void {
    this.#abort.abort();
  }

  #next(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no further event")), 10_000);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    const reader = body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          this.#parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
        }
        this.#wake();
      }
    } catch (error) {
      if (!this.#abort.signal.aborted) throw error;
    }
  }

  #parse(block: string): void {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) this.comments.push(line.slice(1).trim());
      else if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (data.length > 0) this.events.push({ event, data: data.join("\n") });
  }
}
