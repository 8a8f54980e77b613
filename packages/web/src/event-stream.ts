import { apiErrorFrom, PairkitError, TransportError } from "@pairkit/core";

export interface ServerEvent {
  readonly event: string;
  readonly data: string;
}

/** The stream's body broke the text/event-stream format (a field line longer than any event). */
export class EventStreamError extends PairkitError {}

/** No sane event is this long; a line beyond it means the stream is not what the server promised. */
const MAX_LINE = 64 * 1024;

/**
 * Reads Server-Sent Events with fetch and a ReadableStream so the bearer token travels in the
 * Authorization header (EventSource can only put it in the URL). Resolves when the server ends
 * the stream or `signal` aborts; rejects on HTTP errors with the server's `ApiError`.
 */
export async function readEventStream(
  url: string,
  options: { token: string; signal: AbortSignal; onEvent: (event: ServerEvent) => void; onOpen?: () => void },
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${options.token}`, accept: "text/event-stream" },
      signal: options.signal,
      cache: "no-store",
    });
  } catch (cause) {
    if (options.signal.aborted) return;
    throw new TransportError("HTTP_UNREACHABLE", "the event stream cannot be reached", { cause });
  }
  if (!response.ok || !response.body)
    throw apiErrorFrom(response, await response.json().catch(() => undefined));
  options.onOpen?.();
  const parser = new EventStreamParser(options.onEvent);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  } catch (error) {
    if (options.signal.aborted) return;
    if (error instanceof PairkitError) throw error;
    throw new TransportError("DISCONNECTED", "the event stream broke off", { cause: error });
  } finally {
    reader.releaseLock();
  }
}

/** The WHATWG event-stream grammar: `field: value` lines, events end at a blank line, `:` lines are comments. */
export class EventStreamParser {
  #buffer = "";
  #event = "";
  #data: string[] = [];

  constructor(private readonly onEvent: (event: ServerEvent) => void) {}

  push(chunk: string): void {
    this.#buffer += chunk;
    let end = this.#buffer.search(/\r\n|\r|\n/);
    // A trailing CR may be the first half of a CRLF split across chunks: wait for the next one.
    while (end >= 0 && !(end === this.#buffer.length - 1 && this.#buffer.endsWith("\r"))) {
      const line = this.#buffer.slice(0, end);
      const newline = this.#buffer.startsWith("\r\n", end) ? 2 : 1;
      this.#buffer = this.#buffer.slice(end + newline);
      this.#line(line);
      end = this.#buffer.search(/\r\n|\r|\n/);
    }
    if (this.#buffer.length > MAX_LINE)
      throw new EventStreamError(
        "EVENT_STREAM_INVALID",
        `an event-stream line is longer than ${MAX_LINE} characters`,
      );
  }

  #line(line: string): void {
    if (line === "") {
      if (this.#data.length > 0)
        this.onEvent({ event: this.#event || "message", data: this.#data.join("\n") });
      this.#event = "";
      this.#data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
  }
}
