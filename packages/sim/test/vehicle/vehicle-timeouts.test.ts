import {
  createMemoryLinkPair,
  decodeErrorFrame,
  encodeSelectCommand,
  encodeSpake2Response,
  type Link,
  OwnerFrameType,
  runOwnerPairing,
} from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../core/test/owner/fake-clock.ts";
import { crypto, makeFixture } from "./fixture.ts";

/** Lets pending promise chains run until someone is waiting on a (fake) timer. */
async function untilWaiting(clock: FakeClock, timers = 1): Promise<void> {
  for (let i = 0; i < 10_000 && clock.pending < timers; i++) await new Promise((r) => setImmediate(r));
  expect(clock.pending).toBeGreaterThanOrEqual(timers);
}

const select = encodeSelectCommand({ protocolVersion: 1, pairingMode: 2, deviceId: Uint8Array.of(1, 2, 3) });

async function expectErrorFrame(link: Link, code: number) {
  for (;;) {
    const m = await link.receive({ timeoutMs: 1000 });
    if (m.type === OwnerFrameType.ERROR) return expect(decodeErrorFrame(m.payload).errorCode).toBe(code);
  }
}

describe("seed 001 timeouts, on a fake clock", () => {
  it("vehicle: a phone that connects and says nothing is dropped after 5 s", async () => {
    const clock = new FakeClock();
    const f = await makeFixture({ clock });
    const [, vehicleLink] = createMemoryLinkPair(clock);
    const served = f.vehicle.serve(vehicleLink);
    await untilWaiting(clock);
    clock.advance(4_999);
    expect(vehicleLink.closed).toBe(false);
    clock.advance(1);
    expect(await served).toMatchObject({ kind: "failed", error: { code: "TIMEOUT" } });
  });

  it("vehicle: silence before SPAKE2_RESPONSE times out at 5 s and costs no attempt", async () => {
    const clock = new FakeClock();
    const f = await makeFixture({ clock });
    const [phone, vehicleLink] = createMemoryLinkPair(clock);
    const served = f.vehicle.serve(vehicleLink);
    await phone.send({ type: OwnerFrameType.SELECT, payload: select });
    await untilWaiting(clock);
    clock.advance(5_000);
    await expectErrorFrame(phone, 0x000a);
    await phone.close(); // the vehicle waits for the central to hang up
    expect(await served).toMatchObject({ kind: "failed", error: { code: "TIMEOUT", phase: "spake2" } });
    expect(f.vehicle.verifiers.current()!.remainingAttempts).toBe(3);
    expect(f.events).toHaveLength(0);
  });

  it("vehicle: silence after SPAKE2_RESPONSE is an abandoned handshake and costs one attempt", async () => {
    const clock = new FakeClock();
    const f = await makeFixture({ clock });
    const [phone, vehicleLink] = createMemoryLinkPair(clock);
    const served = f.vehicle.serve(vehicleLink);
    await phone.send({ type: OwnerFrameType.SELECT, payload: select });
    const pointX = crypto.generateKeyPair().publicKey;
    await phone.send({
      type: OwnerFrameType.SPAKE2_RESPONSE,
      payload: encodeSpake2Response({ pointX, deviceNonce: new Uint8Array(16) }),
    });
    await untilWaiting(clock);
    clock.advance(5_000);
    await expectErrorFrame(phone, 0x000a);
    await phone.close();
    expect(await served).toMatchObject({ kind: "failed", error: { code: "TIMEOUT", retryAllowed: true } });
    expect(f.events).toMatchObject([{ type: "attempt-failed", remainingAttempts: 2, code: "TIMEOUT" }]);
  });

  it("vehicle: after reporting, it waits for the phone to hang up, then at most 5 s", async () => {
    const clock = new FakeClock();
    const f = await makeFixture({ clock });
    const [phone, vehicleLink] = createMemoryLinkPair(clock);
    const served = f.vehicle.serve(vehicleLink);
    await phone.send({ type: OwnerFrameType.SELECT, payload: select });
    await untilWaiting(clock);
    clock.advance(5_000);
    await expectErrorFrame(phone, 0x000a);
    await untilWaiting(clock);
    expect(vehicleLink.closed).toBe(false);
    clock.advance(5_000);
    await served;
    expect(vehicleLink.closed).toBe(true);
  });

  it("vehicle: a message the phone still sends after the ERROR does not cut the 5 s wait short", async () => {
    const clock = new FakeClock();
    const f = await makeFixture({ clock });
    const [phone, vehicleLink] = createMemoryLinkPair(clock);
    const served = f.vehicle.serve(vehicleLink);
    await phone.send({ type: OwnerFrameType.SELECT, payload: select });
    await untilWaiting(clock);
    clock.advance(5_000);
    await expectErrorFrame(phone, 0x000a);
    // The phone's last write, crossing the ERROR: its acknowledgement must not be cut off.
    await phone.send({ type: OwnerFrameType.SELECT, payload: select });
    await untilWaiting(clock);
    expect(vehicleLink.closed).toBe(false);
    clock.advance(4_999);
    await untilWaiting(clock);
    expect(vehicleLink.closed).toBe(false);
    clock.advance(1);
    await served;
    expect(vehicleLink.closed).toBe(true);
  });

  it("phone: a vehicle that never answers SELECT fails the pairing after 5 s, retry allowed", async () => {
    const clock = new FakeClock();
    const f = await makeFixture({ clock });
    const [phoneLink, silentVehicle] = createMemoryLinkPair(clock);
    const pairing = runOwnerPairing({ ...f.phone, link: phoneLink });
    await untilWaiting(clock);
    clock.advance(5_000);
    const result = await pairing;
    expect(result).toMatchObject({
      ok: false,
      error: { phase: "spake2", code: "TIMEOUT", retryAllowed: true },
    });
    await expectErrorFrame(silentVehicle, 0x000a);
    expect(await f.phone.log.entries()).toContainEqual(
      expect.objectContaining({ result: "failed", errorCode: "TIMEOUT" }),
    );
  });

  it("phone: the SPAKE2_REQUEST wait is bounded by the per-response 5 s", async () => {
    const clock = new FakeClock();
    const f = await makeFixture({ clock });
    const [phoneLink, vehicle] = createMemoryLinkPair(clock);
    let settled = false;
    const pairing = runOwnerPairing({ ...f.phone, link: phoneLink }).finally(() => {
      settled = true;
    });
    await vehicle.receive({ timeoutMs: 1000 });
    clock.advance(4_000);
    await vehicle.send({
      type: OwnerFrameType.SELECT,
      payload: Uint8Array.of(1, 0, 1, 2, 1),
    });
    for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
    clock.advance(4_999);
    for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await pairing).toMatchObject({ ok: false, error: { code: "TIMEOUT" } });
  });
});
