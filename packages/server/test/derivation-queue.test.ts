import { describe, expect, it } from "vitest";
import { ApiError } from "../src/errors.ts";
import { DerivationQueue } from "../src/pairing/derivation-queue.ts";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("DerivationQueue", () => {
  it("runs at most `concurrency` jobs, queues up to `maxQueue`, refuses the rest with SERVER_BUSY", async () => {
    const queue = new DerivationQueue(2, 1);
    const gates = [deferred(), deferred(), deferred()];
    let started = 0;
    const jobs = gates.map((gate) =>
      queue.run(async () => {
        started++;
        await gate.promise;
      }),
    );
    await Promise.resolve();
    expect(started).toBe(2);
    expect(queue.depth).toBe(1);

    const refused = await queue.run(async () => {}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: "SERVER_BUSY", status: 503 });
    expect((refused as ApiError).retryAfter).toBeGreaterThanOrEqual(1);

    gates[0]!.resolve();
    await jobs[0];
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toBe(3);
    expect(queue.depth).toBe(0);
    expect(queue.running).toBe(2);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await Promise.all(jobs);
    expect(queue.running).toBe(0);
  });

  it("releases the slot when a job fails", async () => {
    const queue = new DerivationQueue(1, 0);
    await expect(queue.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(queue.run(async () => 42)).resolves.toBe(42);
  });
});
