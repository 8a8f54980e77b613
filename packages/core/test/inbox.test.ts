import { describe, expect, it } from "vitest";
import { AbortedError, Inbox, ManualClock, TimeoutError } from "../src/index.ts";

describe("Inbox", () => {
  it("hands items to takes in order, queued or waited for", async () => {
    const inbox = new Inbox<number>(new ManualClock());
    inbox.push(1);
    const waiting = [
      inbox.take({ timeoutMs: 10 }),
      inbox.take({ timeoutMs: 10 }),
      inbox.take({ timeoutMs: 10 }),
    ];
    inbox.push(2);
    inbox.push(3);
    expect(await Promise.all(waiting)).toEqual([1, 2, 3]);
    expect(inbox.size).toBe(0);
  });

  it("times a take out and aborts it, and a later item goes to the next take", async () => {
    const clock = new ManualClock();
    const inbox = new Inbox<string>(clock);
    const timedOut = inbox.take({ timeoutMs: 100 });
    const controller = new AbortController();
    const aborted = inbox.take({ timeoutMs: 1_000, signal: controller.signal });
    clock.advance(100);
    controller.abort("gone");
    await expect(timedOut).rejects.toBeInstanceOf(TimeoutError);
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
    expect(clock.pending).toBe(0);
    inbox.push("late");
    expect(await inbox.take({ timeoutMs: 1 })).toBe("late");
    await expect(inbox.take({ timeoutMs: 1, signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      AbortedError,
    );
  });

  it("closing fails the waiting takes; queued items stay takeable, then every take fails", async () => {
    const clock = new ManualClock();
    const inbox = new Inbox<string>(clock);
    const waiting = inbox.take({ timeoutMs: 100 });
    inbox.close(new Error("closed while waiting"), new Error("closed"));
    await expect(waiting).rejects.toThrow("closed while waiting");
    expect(clock.pending).toBe(0);
    const reopened = new Inbox<string>(clock);
    reopened.push("last word");
    reopened.close(new Error("closed while waiting"), new Error("closed"));
    expect(await reopened.take({ timeoutMs: 1 })).toBe("last word");
    await expect(reopened.take({ timeoutMs: 1 })).rejects.toThrow(/^closed$/);
  });
});
