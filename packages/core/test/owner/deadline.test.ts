import { describe, expect, it } from "vitest";
import { Deadline, OwnerTimeouts, TimeoutError } from "../../src/index.ts";
import { FakeClock } from "./fake-clock.ts";

describe("Deadline: seed 001 §2 budgets", () => {
  it("caps each wait at 5 s and the phase at its budget (20 s SPAKE2+)", () => {
    const clock = new FakeClock();
    const d = new Deadline(clock, OwnerTimeouts.spake2, "SPAKE2+");
    expect(d.nextWait()).toBe(5_000);
    clock.advance(17_000);
    expect(d.nextWait()).toBe(3_000);
    clock.advance(3_000);
    expect(() => d.nextWait()).toThrow(TimeoutError);
  });

  it("30 s for the configuration transfer", () => {
    const clock = new FakeClock();
    const d = new Deadline(clock, OwnerTimeouts.config, "config");
    clock.advance(29_000);
    expect(d.nextWait()).toBe(1_000);
    clock.advance(1_000);
    expect(() => d.nextWait()).toThrow(TimeoutError);
  });

  it("a documented longer per-message wait (SIG_BITMAP_UPDATE) is honoured", () => {
    const clock = new FakeClock();
    expect(new Deadline(clock, 10_000, "sig", 10_000).nextWait()).toBe(10_000);
  });
});
