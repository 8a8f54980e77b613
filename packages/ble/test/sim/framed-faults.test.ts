import {
  type Clock,
  type LinkMessage,
  nobleCrypto,
  PairkitError,
  TimeoutError,
  TransportError,
} from "@pairkit/core";
import { describe, expect, it } from "vitest";
import type { FrameChannel } from "../../src/frame-channel.ts";
import { FramedLink } from "../../src/framed-link.ts";
import { FrameType } from "../../src/framing/frame-type.ts";
import { MISSING_CHUNK_TIMEOUT_MS, RESPONSE_TIMEOUT_MS } from "../../src/framing/timeouts.ts";
import { connectWithRetry } from "../../src/gatt/connect.ts";
import { OWNER_PAIRING_PIPE, openCentralFrameChannel } from "../../src/gatt/frame-channels.ts";
import {
  dropPdu,
  duplicatePdu,
  type FaultPlan,
  flipBit,
  type MitmHook,
  replayPdu,
  swapPdus,
} from "../../src/sim/faults.ts";
import { simPipe } from "../support/sim-fixtures.ts";

/*
 * The Done-when item "each injected fault is recovered or reported as a typed error within the
 * seed's timeouts": owner-pairing-shaped traffic (a plaintext SELECT, then a sealed DEVICE_CONFIG
 * of several frames and its ACK) over FramedLink on the simulated radio, on a fake clock.
 */
const kenc = Uint8Array.from({ length: 32 }, (_, i) => 0x5a ^ i);
const config: LinkMessage = {
  type: FrameType.DEVICE_CONFIG,
  payload: Uint8Array.from({ length: 900 }, (_, i) => (i * 31) & 0xff),
};
const receive = { timeoutMs: RESPONSE_TIMEOUT_MS };

function links(clock: Clock, phone: FrameChannel, vehicle: FrameChannel) {
  return {
    phone: new FramedLink(phone, { role: "central", crypto: nobleCrypto, clock }),
    vehicle: new FramedLink(vehicle, { role: "peripheral", crypto: nobleCrypto, clock }),
  };
}

/** Connects, exchanges SELECT in clear and secures both ends; `faults` apply from then on. */
async function securedPair(faults: FaultPlan = {}) {
  const setup = await simPipe();
  const { clock } = setup;
  const { phone, vehicle } = links(clock, await setup.open(), setup.peripheralChannels[0]!);
  await clock.run(phone.send({ type: FrameType.SELECT, payload: Uint8Array.of(0xa0) }));
  expect((await clock.run(vehicle.receive(receive))).type).toBe(FrameType.SELECT);
  phone.secure(kenc);
  vehicle.secure(kenc);
  setup.radio.faults = faults;
  return { ...setup, phone, vehicle };
}

/** What the vehicle makes of the sealed DEVICE_CONFIG: the message, or the typed error, and when. */
async function deliverConfig(faults: FaultPlan) {
  const { clock, phone, vehicle } = await securedPair(faults);
  const start = clock.now();
  const sent = phone.send(config).catch((error: unknown) => error);
  let outcome: LinkMessage | unknown;
  try {
    outcome = await clock.run(vehicle.receive(receive));
  } catch (error) {
    outcome = error;
  }
  const elapsed = clock.now() - start;
  await clock.run(sent);
  return { outcome, elapsed };
}

function expectTypedFailure(outcome: unknown, elapsed: number, limit: number) {
  expect(outcome).toBeInstanceOf(PairkitError);
  expect(elapsed).toBeLessThanOrEqual(limit);
}

describe("FramedLink on the simulated radio under injected faults", () => {
  it("without faults the sealed, chunked config arrives intact", async () => {
    const { outcome } = await deliverConfig({});
    expect(outcome).toEqual(config);
  });

  it("a disconnect at PDU k mid-message is a TransportError at once on both sides; a reconnect recovers", async () => {
    const setup = await simPipe({ disconnectAtPdu: 5 });
    const { clock, central } = setup;
    const first = links(clock, await setup.open(), setup.peripheralChannels[0]!);
    const start = clock.now();
    const sending = first.phone.send(config).catch((e: unknown) => e);
    const receiving = clock.run(first.vehicle.receive(receive)).catch((e: unknown) => e);
    expect(await receiving).toBeInstanceOf(TransportError);
    expect(await clock.run(sending)).toBeInstanceOf(TransportError);
    expect(clock.now() - start).toBeLessThan(RESPONSE_TIMEOUT_MS);

    const client = await clock.run(
      connectWithRetry(central, "vehicle", { timeoutMs: 5000, attempts: 3, backoffMs: 200, clock }),
    );
    const channel = await clock.run(openCentralFrameChannel(client, OWNER_PAIRING_PIPE));
    await clock.advance(0);
    const second = links(clock, channel, setup.peripheralChannels[1]!);
    await clock.run(second.phone.send(config));
    expect(await clock.run(second.vehicle.receive(receive))).toEqual(config);
  });

  it("a flaky first connect is retried and the exchange then succeeds", async () => {
    const setup = await simPipe({ failConnects: 1 });
    const { clock, central } = setup;
    const client = await clock.run(
      connectWithRetry(central, "vehicle", { timeoutMs: 5000, attempts: 2, backoffMs: 200, clock }),
    );
    const channel = await clock.run(openCentralFrameChannel(client, OWNER_PAIRING_PIPE));
    await clock.advance(0);
    const { phone, vehicle } = links(clock, channel, setup.peripheralChannels[0]!);
    await clock.run(phone.send(config));
    expect(await clock.run(vehicle.receive(receive))).toEqual(config);
  });

  it("a delay past the response timeout is a TimeoutError at exactly that timeout", async () => {
    const { outcome, elapsed } = await deliverConfig({ extraDelayMs: RESPONSE_TIMEOUT_MS });
    expect(outcome).toBeInstanceOf(TimeoutError);
    expect(elapsed).toBe(RESPONSE_TIMEOUT_MS);
  });

  describe("an attacker in the middle never gets an altered message accepted", () => {
    // Write 1 carries the config's first frame; the config spans several writes.
    const attacks: [string, MitmHook, string][] = [
      ["drops a frame", dropPdu("write", 2), "MISSING_CHUNK"],
      ["duplicates a frame", duplicatePdu("write", 2), "DUPLICATE_CHUNK"],
      ["replays an earlier frame", replayPdu("write", 3, 1), "DUPLICATE_CHUNK"],
      ["reorders two frames", swapPdus("write", 2), "MISSING_CHUNK"],
      ["flips a ciphertext bit", flipBit("write", 2, 8 * 40), "DECRYPTION_FAILED"],
      // Byte 2 is the header's sequence number: the frame claims another chunk's place.
      ["flips a header bit", flipBit("write", 1, 8 * 2), "MISSING_CHUNK"],
    ];
    for (const [name, mitm, code] of attacks) {
      it(`${name}: the vehicle reports ${code} within the missing-chunk cut-off`, async () => {
        const { outcome, elapsed } = await deliverConfig({ mitm });
        expectTypedFailure(outcome, elapsed, MISSING_CHUNK_TIMEOUT_MS);
        expect(outcome).toMatchObject({ code });
      });
    }

    it("flips a bit in a notification: the phone rejects the vehicle's sealed answer", async () => {
      const { clock, phone, vehicle, radio } = await securedPair();
      await clock.run(phone.send(config));
      await clock.run(vehicle.receive(receive));
      radio.faults = { mitm: flipBit("notification", 1, 8 * 20) };
      await clock.run(vehicle.send({ type: FrameType.DEVICE_CONFIG_ACK, payload: Uint8Array.of(1, 2, 3) }));
      const start = clock.now();
      const outcome = await clock.run(phone.receive(receive)).catch((e: unknown) => e);
      expectTypedFailure(outcome, clock.now() - start, RESPONSE_TIMEOUT_MS);
    });
  });
});
