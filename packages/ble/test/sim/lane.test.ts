import type { Clock } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { Lane } from "../../src/sim/lane.ts";

/** A clock whose pending timers the test fires in any order it likes. */
function adversarialClock() {
  const timers = new Set<() => void>();
  const clock: Clock = {
    now: () => 0,
    setTimeout: (fn) => {
      timers.add(fn);
      return () => timers.delete(fn);
    },
  };
  return { clock, timers };
}

describe("Lane", () => {
  it("delivers in send order even when the platform fires its timers newest first", () => {
    // Node measures a timer from its loop's cached time: under load a later, longer timer can
    // fire before an earlier one (a CI run saw "chunk 3 arrived but chunk 2 is missing").
    const { clock, timers } = adversarialClock();
    const lane = new Lane(clock, () => 2);
    const arrived: number[] = [];
    for (let i = 0; i < 5; i++) lane.send(() => arrived.push(i));
    while (timers.size > 0) {
      const newest = [...timers].at(-1) as () => void;
      timers.delete(newest);
      newest();
    }
    expect(arrived).toEqual([0, 1, 2, 3, 4]);
  });

  it("queues what is sent from inside a delivery behind what was already in flight", () => {
    const { clock, timers } = adversarialClock();
    const lane = new Lane(clock, () => 1);
    const arrived: string[] = [];
    lane.send(() => {
      arrived.push("a");
      lane.send(() => arrived.push("c"));
    });
    lane.send(() => arrived.push("b"));
    while (timers.size > 0) {
      const [first] = timers;
      timers.delete(first as () => void);
      (first as () => void)();
    }
    expect(arrived).toEqual(["a", "b", "c"]);
  });

  it("delivers nothing after drop", () => {
    const { clock, timers } = adversarialClock();
    const lane = new Lane(clock, () => 1);
    const arrived: number[] = [];
    lane.send(() => arrived.push(1));
    lane.send(() => arrived.push(2));
    lane.drop();
    lane.send(() => arrived.push(3));
    expect(timers.size).toBe(0);
    expect(arrived).toEqual([]);
  });
});
