import { ManualClock } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { ChangeFeed } from "../src/changes/change-feed.ts";
import { ApiError } from "../src/errors.ts";
import { EventStreams } from "../src/http/event-streams.ts";

function streamsWith(max = 2, maxBufferedBytes = 1 << 20) {
  const clock = new ManualClock();
  return { clock, streams: new EventStreams({ clock, max, pingIntervalMs: 15_000, maxBufferedBytes }) };
}

const drain = (body: NodeJS.ReadableStream) => {
  const chunks: string[] = [];
  body.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  return () => chunks.join("");
};

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("server-sent event streams", () => {
  it("writes events and comments in the text/event-stream format, and pings every 15 s", async () => {
    const { clock, streams } = streamsWith();
    const stream = streams.open();
    const text = drain(stream.body);
    stream.send("change", { kind: "session", id: "s-1" });
    clock.advance(14_999);
    await tick();
    expect(text()).toBe(': connected\n\nevent: change\ndata: {"kind":"session","id":"s-1"}\n\n');
    clock.advance(1);
    clock.advance(15_000);
    await tick();
    expect(text().endsWith(": ping\n\n: ping\n\n")).toBe(true);
  });

  it("refuses a stream beyond the bound with SERVER_BUSY and frees the slot when a stream closes", async () => {
    const { clock, streams } = streamsWith(2);
    const first = streams.open();
    streams.open();
    expect(() => streams.open()).toThrowError(expect.objectContaining({ code: "SERVER_BUSY", status: 503 }));
    first.body.destroy();
    await tick();
    expect(streams.size).toBe(1);
    // The closed stream's ping timer is gone too.
    expect(clock.pending).toBe(1);
    expect(streams.open()).toBeDefined();
  });

  it("ends every stream on closeAll and opens none afterwards", async () => {
    const { clock, streams } = streamsWith(3);
    const opened = [streams.open(), streams.open()];
    const ended = opened.map((s) => new Promise((resolve) => s.body.once("end", resolve)));
    for (const s of opened) s.body.resume();
    streams.closeAll();
    await Promise.all(ended);
    await tick();
    expect(streams.size).toBe(0);
    expect(clock.pending).toBe(0);
    expect(() => streams.open()).toThrow(ApiError);
  });

  it("drops a client that stops reading once too much waits for it", async () => {
    const { streams } = streamsWith(2, 4096);
    const stream = streams.open();
    for (let i = 0; i < 100; i++) stream.send("change", { kind: "audit", id: String(i) });
    expect(stream.body.destroyed).toBe(true);
    await tick();
    expect(streams.size).toBe(0);
  });
});

describe("change feed", () => {
  it("hands each published change to every subscriber until it unsubscribes; a throwing listener is isolated", () => {
    const errors: unknown[] = [];
    const feed = new ChangeFeed((err) => errors.push(err));
    const seen: string[] = [];
    feed.subscribe(() => {
      throw new Error("listener bug");
    });
    const unsubscribe = feed.subscribe((c) => seen.push(`${c.kind}:${c.id}`));
    feed.publish([
      { kind: "session", id: "a" },
      { kind: "audit", id: "7" },
    ]);
    unsubscribe();
    feed.publish([{ kind: "key", id: "k" }]);
    expect(seen).toEqual(["session:a", "audit:7"]);
    expect(errors).toHaveLength(3);
  });
});
