import { describe, expect, it } from "vitest";
import { EventStreamError, EventStreamParser, type ServerEvent } from "../src/event-stream.ts";

function parse(...chunks: string[]): ServerEvent[] {
  const events: ServerEvent[] = [];
  const parser = new EventStreamParser((e) => events.push(e));
  for (const chunk of chunks) parser.push(chunk);
  return events;
}

describe("EventStreamParser (text/event-stream)", () => {
  it("dispatches an event at the blank line, skips comments, joins data lines", () => {
    expect(parse(': ping\n\nevent: change\ndata: {"kind":"key","id":"k1"}\n\ndata: a\ndata: b\n\n')).toEqual([
      { event: "change", data: '{"kind":"key","id":"k1"}' },
      { event: "message", data: "a\nb" },
    ]);
  });

  it("reassembles events split anywhere across chunks, CRLF included", () => {
    const text = 'event: change\r\ndata: {"kind":"audit"}\r\n\r\n';
    const whole = parse(text);
    for (let cut = 1; cut < text.length; cut++)
      expect(parse(text.slice(0, cut), text.slice(cut)), `cut at ${cut}`).toEqual(whole);
    expect(whole).toEqual([{ event: "change", data: '{"kind":"audit"}' }]);
  });

  it("holds back an unfinished event and refuses a line without end", () => {
    expect(parse("event: change\ndata: x\n")).toEqual([]);
    expect(() => parse(`data: ${"x".repeat(70_000)}`)).toThrow(EventStreamError);
  });
});
