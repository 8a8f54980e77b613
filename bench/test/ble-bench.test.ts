import { describe, expect, it } from "vitest";
import { runBleBench } from "../src/ble.ts";

describe("BLE link bench, quick, MTU 185", () => {
  it("delivers the 2 KiB sealed message intact each way in the frames docs/protocol.md §2.5 gives", async () => {
    const result = await runBleBench({ quick: true, mtus: [185] });
    expect(result.sealedBytes).toBe(2072);
    expect(result.cases.map((c) => c.direction)).toEqual(["central→peripheral", "peripheral→central"]);
    for (const c of result.cases) {
      // §2.5 table: MTU 185 → F = 182, 12 frames, 12 × 6 + 24 = 96 bytes of framing overhead.
      expect(c).toMatchObject({
        mtu: 185,
        frameSize: 182,
        frames: 12,
        framesByFormula: 12,
        frameBytes: 2048 + 96,
        framingOverheadBytes: 96,
        framingOverheadByFormula: 96,
      });
      // One measured round; the receiver sent nothing meanwhile (LINK_PARAMS was exchanged before).
      expect(c.rounds).toEqual([{ ms: expect.any(Number), frames: 12, receiverFrames: 0, intact: true }]);
      expect(c.floorMs).toBe(c.hops * 30);
    }
    const [write, notify] = result.cases;
    // Write Request + Write Response per frame, the last response after delivery; one notification per frame.
    expect(write).toMatchObject({ hops: 23, attBytesOnAir: 2144 + 12 * (3 + 1) });
    expect(notify).toMatchObject({ hops: 12, attBytesOnAir: 2144 + 12 * 3 });
    expect(result.connection).toEqual([
      expect.objectContaining({
        mtu: 185,
        linkParams: { frameBytes: 2 * 8, attBytesOnAir: 8 + 3 + 1 + 8 + 3 },
        firstMessage: expect.objectContaining({ writes: 2, hops: 3, floorMs: 90, intact: true }),
      }),
    ]);
  });
});
