import { TimeoutError, TransportError } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { connectWithRetry } from "../../src/gatt/connect.ts";
import { OWNER_PAIRING_PIPE, openCentralFrameChannel } from "../../src/gatt/frame-channels.ts";
import { dropPdu, duplicatePdu, flipBit, type MitmHook, replayPdu, swapPdus } from "../../src/sim/faults.ts";
import { record, simPipe } from "../support/sim-fixtures.ts";

const frame = (n: number) => Uint8Array.of(n, n, n);

describe("simulated radio: frame channels", () => {
  it("carries frames both ways in order and closes both sides", async () => {
    const { clock, open, peripheralChannels } = await simPipe();
    const central = await open();
    const peripheral = peripheralChannels[0]!;
    expect(central.mtu).toBe(185);
    const atPeripheral = record(peripheral);
    const atCentral = record(central);
    await clock.run(Promise.all([1, 2, 3].map((n) => central.sendFrame(frame(n)))));
    await Promise.all([4, 5].map((n) => peripheral.sendFrame(frame(n))));
    await clock.advance(200);
    expect(atPeripheral).toEqual([
      [1, 1, 1],
      [2, 2, 2],
      [3, 3, 3],
    ]);
    expect(atCentral).toEqual([
      [4, 4, 4],
      [5, 5, 5],
    ]);
    const closed: unknown[] = [];
    peripheral.onClose((cause) => closed.push(cause));
    await central.close();
    await clock.advance(100);
    expect(closed).toHaveLength(1);
    await expect(peripheral.sendFrame(frame(6))).rejects.toMatchObject({ code: "DISCONNECTED" });
  });

  it("the peripheral's channel times out when the central never subscribes", async () => {
    const { clock, central, connections } = await simPipe();
    const client = await clock.run(central.connect("vehicle", { timeoutMs: 5000 }));
    await clock.advance(5100);
    expect(connections).toHaveLength(0);
    expect(client.connected).toBe(true);
  });
});

describe("simulated radio: injected faults are recovered or reported as typed errors", () => {
  it("disconnect at PDU k: both sides see the close, the pending write fails, a reconnect re-discovers and re-subscribes", async () => {
    const { clock, open, central, peripheralChannels, connections } = await simPipe({ disconnectAtPdu: 3 });
    const channel = await open();
    const closes: unknown[] = [];
    channel.onClose((c) => closes.push(c));
    peripheralChannels[0]!.onClose((c) => closes.push(c));
    await clock.run(channel.sendFrame(frame(1)));
    await clock.run(channel.sendFrame(frame(2)));
    await expect(clock.run(channel.sendFrame(frame(3)))).rejects.toBeInstanceOf(TransportError);
    await clock.advance(100);
    expect(closes).toHaveLength(2);
    expect(closes.every((c) => c instanceof TransportError && c.code === "DISCONNECTED")).toBe(true);

    const client = await clock.run(
      connectWithRetry(central, "vehicle", { timeoutMs: 5000, attempts: 3, backoffMs: 100, clock }),
    );
    expect(
      connections[1]?.isSubscribed(OWNER_PAIRING_PIPE.service, OWNER_PAIRING_PIPE.characteristic),
    ).toBeFalsy();
    const again = await clock.run(openCentralFrameChannel(client, OWNER_PAIRING_PIPE));
    await clock.advance(0);
    const atPeripheral = record(peripheralChannels[1]!);
    const atCentral = record(again);
    await clock.run(again.sendFrame(frame(3)));
    await peripheralChannels[1]!.sendFrame(frame(4));
    await clock.advance(100);
    expect(atPeripheral).toEqual([[3, 3, 3]]);
    expect(atCentral).toEqual([[4, 4, 4]]);
  });

  it("a flaky first connect is retried; exhausting the attempts is a CONNECT_FAILED TransportError", async () => {
    const flaky = await simPipe({ failConnects: 2 });
    const client = await flaky.clock.run(
      connectWithRetry(flaky.central, "vehicle", {
        timeoutMs: 5000,
        attempts: 3,
        backoffMs: 100,
        clock: flaky.clock,
      }),
    );
    expect(client.connected).toBe(true);
    const dead = await simPipe({ failConnects: 5 });
    const failure = dead.clock.run(
      connectWithRetry(dead.central, "vehicle", {
        timeoutMs: 5000,
        attempts: 3,
        backoffMs: 100,
        clock: dead.clock,
      }),
    );
    await expect(failure).rejects.toMatchObject({ code: "CONNECT_FAILED" });
    await expect(failure).rejects.toHaveProperty("cause.code", "CONNECT_FAILED");
  });

  it("a delay past the connect timeout is a TimeoutError; past the ATT timeout it fails the write and drops the link", async () => {
    const slow = await simPipe({ extraDelayMs: 6000 });
    await expect(slow.clock.run(slow.central.connect("vehicle", { timeoutMs: 5000 }))).rejects.toBeInstanceOf(
      TimeoutError,
    );
    const { clock, radio, open } = await simPipe();
    const channel = await open();
    const closes: unknown[] = [];
    channel.onClose((c) => closes.push(c));
    radio.faults = { extraDelayMs: 20_000 };
    await expect(clock.run(channel.sendFrame(frame(1)))).rejects.toBeInstanceOf(TimeoutError);
    expect(closes).toHaveLength(1);
  });

  it("a caller's abort signal cancels a write without waiting for the ATT timeout", async () => {
    const { clock, radio, open } = await simPipe();
    const channel = await open();
    radio.faults = { extraDelayMs: 20_000 };
    const controller = new AbortController();
    const pending = channel.sendFrame(frame(1), { signal: controller.signal });
    await clock.advance(10);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "ABORTED" });
  });

  describe("attacker in the middle", () => {
    async function attacked(hook: MitmHook) {
      const setup = await simPipe();
      const channel = await setup.open();
      setup.radio.faults = { mitm: hook };
      const atPeripheral = record(setup.peripheralChannels[0]!);
      const atCentral = record(channel);
      for (const n of [1, 2, 3]) await setup.clock.run(channel.sendFrame(frame(n)));
      for (const n of [1, 2, 3]) await setup.peripheralChannels[0]!.sendFrame(frame(n + 10));
      await setup.clock.advance(500);
      return { atPeripheral: atPeripheral.map((f) => f[0]), atCentral: atCentral.map((f) => f[0]) };
    }

    it("drops a write (acknowledged by the attacker) and a notification", async () => {
      expect((await attacked(dropPdu("write", 2))).atPeripheral).toEqual([1, 3]);
      expect((await attacked(dropPdu("notification", 1))).atCentral).toEqual([12, 13]);
    });

    it("duplicates, replays and reorders", async () => {
      expect((await attacked(duplicatePdu("write", 1))).atPeripheral).toEqual([1, 1, 2, 3]);
      expect((await attacked(replayPdu("write", 3, 1))).atPeripheral).toEqual([1, 2, 1]);
      expect((await attacked(swapPdus("notification", 1))).atCentral).toEqual([12, 11, 13]);
      expect((await attacked(swapPdus("write", 2))).atPeripheral).toEqual([1, 3, 2]);
    });

    it("flips bits in writes and notifications", async () => {
      const setup = await simPipe();
      const channel = await setup.open();
      const got = record(channel);
      const atPeripheral = record(setup.peripheralChannels[0]!);
      setup.radio.faults = { mitm: flipBit("write", 1, 9) };
      await setup.clock.run(channel.sendFrame(frame(2)));
      setup.radio.faults = { mitm: flipBit("notification", 1, 0) };
      await setup.peripheralChannels[0]!.sendFrame(frame(4));
      await setup.clock.advance(100);
      expect(atPeripheral).toEqual([[2, 0, 2]]);
      expect(got).toEqual([[5, 4, 4]]);
    });
  });
});
