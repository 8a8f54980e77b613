import {
  AbortedError,
  DecryptionError,
  InvalidLengthError,
  type LinkMessage,
  ManualClock,
  nobleCrypto,
  TimeoutError,
  TransportError,
} from "@pairkit/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CONFIG_TIMEOUT_MS,
  chunkMessage,
  FramedLink,
  type FramedLinkOptions,
  FrameError,
  FrameFlags,
  FrameType,
  MISSING_CHUNK_TIMEOUT_MS,
  RESPONSE_TIMEOUT_MS,
} from "../src/index.ts";
import { type ChannelPairOptions, createFrameChannelPair } from "./framing/helpers/frame-channel-pair.ts";

const kenc = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 ^ i);
const receiveOptions = { timeoutMs: RESPONSE_TIMEOUT_MS };

function connect(pair: ChannelPairOptions, options: Partial<FramedLinkOptions> = {}) {
  const clock = new ManualClock();
  const channels = createFrameChannelPair(pair);
  const common = { crypto: nobleCrypto, clock, ...options };
  const central = new FramedLink(channels.central, { ...common, role: "central" });
  const peripheral = new FramedLink(channels.peripheral, { ...common, role: "peripheral" });
  return { clock, channels, central, peripheral };
}

/** Lets every queued write, notification and promise continuation run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function message(type: number, length: number, seed = 0): LinkMessage {
  return { type, payload: Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function frameErrorOf(promise: Promise<unknown>): Promise<string> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(FrameError);
  return (error as FrameError).code;
}

const mtuCases: Array<[string, ChannelPairOptions]> = [23, 185, 247, 517].flatMap((mtu) => [
  [`MTU ${mtu}`, { mtu }],
  [`MTU ${mtu}, central cannot read it`, { mtu, centralSeesMtu: false }],
]);
mtuCases.push(
  ["MTU 185, peripheral cannot read it", { mtu: 185, peripheralSeesMtu: false }],
  ["MTU 247, neither side can read it", { mtu: 247, centralSeesMtu: false, peripheralSeesMtu: false }],
);

describe("FramedLink round trips", () => {
  it.each(mtuCases)(
    "carries any message both ways, plain then sealed, within MTU − 3 (%s)",
    async (_, pair) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ fromCentral: fc.boolean(), length: fc.integer({ min: 0, max: 3000 }) }), {
            minLength: 1,
            maxLength: 6,
          }),
          fc.nat(6),
          async (messages, secureAt) => {
            const { channels, central, peripheral } = connect(pair);
            for (const [i, { fromCentral, length }] of messages.entries()) {
              if (i === secureAt) {
                central.secure(kenc);
                peripheral.secure(kenc);
              }
              const [from, to] = fromCentral ? [central, peripheral] : [peripheral, central];
              const sent = message(FrameType.DEVICE_CONFIG, length, i);
              await from.send(sent);
              expect(await to.receive(receiveOptions)).toEqual(sent);
            }
            for (const channel of [channels.central, channels.peripheral]) {
              for (const frame of channel.sent) expect(frame.length).toBeLessThanOrEqual(pair.mtu - 3);
            }
            await central.close();
          },
        ),
        { numRuns: 15 },
      );
    },
  );

  it("starts a central that cannot read the MTU at 20-byte frames and learns the peripheral's", async () => {
    const { channels, central, peripheral } = connect({ mtu: 247, centralSeesMtu: false });
    expect(central.frameSize).toBe(20);
    expect(peripheral.frameSize).toBe(244);
    await central.send(message(FrameType.SELECT, 40));
    expect(channels.central.sent.map((f) => [f[1], f.length])).toEqual([
      [FrameType.LINK_PARAMS, 8],
      [FrameType.SELECT, 20],
      [FrameType.SELECT, 20],
      [FrameType.SELECT, 18],
    ]);
    await peripheral.receive(receiveOptions);
    await flush();
    expect([...channels.peripheral.sent[0]!]).toEqual([1, FrameType.LINK_PARAMS, 0, 1, 2, 0, 0x00, 0xf4]);
    expect(central.frameSize).toBe(244);
    await central.send(message(FrameType.SELECT, 400));
    expect(channels.central.sent.slice(4).map((f) => f.length)).toEqual([244, 168]);
  });

  it("caps frames at 261 bytes at MTU 517", async () => {
    const { channels, central, peripheral } = connect({ mtu: 517 });
    await peripheral.send(message(FrameType.DEVICE_CONFIG, 600));
    expect(channels.peripheral.sent.map((f) => f.length)).toEqual([261, 261, 96]);
    expect((await central.receive(receiveOptions)).payload.length).toBe(600);
  });

  it("fails typed when a platform reports a larger MTU than the link carries (notifications cut)", async () => {
    const { central, peripheral } = connect({ mtu: 23, peripheralReportsMtu: 247 });
    await peripheral.send(message(FrameType.SPAKE2_REQUEST, 100));
    expect(await frameErrorOf(central.receive(receiveOptions))).toBe("LENGTH_MISMATCH");
  });

  it("refuses to send what no frame sequence can carry, and types that are not messages", async () => {
    const { central } = connect({ mtu: 23 });
    expect(await frameErrorOf(central.send(message(FrameType.DEVICE_CONFIG, 3600)))).toBe(
      "MESSAGE_TOO_LARGE",
    );
    expect(await frameErrorOf(central.send(message(FrameType.LINK_PARAMS, 2)))).toBe("UNKNOWN_TYPE");
    expect(await frameErrorOf(central.send(message(0x0b, 2)))).toBe("UNKNOWN_TYPE");
    const { peripheral } = connect({ mtu: 517 }, { maxMessageSize: 1000 });
    expect(await frameErrorOf(peripheral.send(message(FrameType.DEVICE_CONFIG, 1001)))).toBe(
      "MESSAGE_TOO_LARGE",
    );
    expect(central.closed).toBe(false);
  });
});

describe("FramedLink encryption", () => {
  async function securedPair() {
    const link = connect({ mtu: 23 });
    await link.central.send(message(FrameType.SELECT, 4));
    await link.peripheral.receive(receiveOptions);
    link.central.secure(kenc);
    link.peripheral.secure(kenc);
    await flush();
    return link;
  }

  it("puts only ciphertext on the air once secured", async () => {
    const { channels, central, peripheral } = await securedPair();
    const before = channels.central.sent.length;
    const secret = { type: FrameType.ENDPOINT_READY, payload: new Uint8Array(40).fill(0x5a) };
    await central.send(secret);
    const frames = channels.central.sent.slice(before);
    expect(frames.every((f) => f[5] === FrameFlags.ENCRYPTED)).toBe(true);
    expect(frames.flatMap((f) => [...f.subarray(6)]).filter((b) => b === 0x5a).length).toBeLessThan(8);
    expect(await peripheral.receive(receiveOptions)).toEqual(secret);
  });

  it("rejects a replayed message", async () => {
    const { channels, central, peripheral } = await securedPair();
    const before = channels.central.sent.length;
    await central.send(message(FrameType.ENDPOINT_READY, 30));
    const replay = channels.central.sent.slice(before);
    await peripheral.receive(receiveOptions);
    for (const frame of replay) channels.peripheral.arrive(frame);
    expect(await frameErrorOf(peripheral.receive(receiveOptions))).toBe("REPLAYED_COUNTER");
  });

  it("rejects reordered messages and still opens them in order", async () => {
    const held: Uint8Array[][] = [[], []];
    let holding = -1;
    const link = connect({
      mtu: 23,
      wire: (frame, from) => {
        if (from === "central" && holding >= 0) {
          held[holding]!.push(frame);
          return [];
        }
        return [frame];
      },
    });
    const { central, peripheral, channels } = link;
    await central.send(message(FrameType.SELECT, 4));
    await peripheral.receive(receiveOptions);
    central.secure(kenc);
    peripheral.secure(kenc);
    holding = 0;
    await central.send(message(FrameType.DEVICE_CONFIG_ACK, 32, 1));
    holding = 1;
    await central.send(message(FrameType.ENDPOINT_READY, 17, 2));
    for (const frame of held[1]!) channels.peripheral.arrive(frame);
    expect(await frameErrorOf(peripheral.receive(receiveOptions))).toBe("COUNTER_GAP");
    for (const frame of [...held[0]!, ...held[1]!]) channels.peripheral.arrive(frame);
    expect(await peripheral.receive(receiveOptions)).toEqual(message(FrameType.DEVICE_CONFIG_ACK, 32, 1));
    expect(await peripheral.receive(receiveOptions)).toEqual(message(FrameType.ENDPOINT_READY, 17, 2));
  });

  it("rejects a flipped bit anywhere in the body, and a changed type", async () => {
    for (const alter of [
      (frame: Uint8Array) => {
        frame[frame.length - 1]! ^= 0x01;
      },
      (frame: Uint8Array) => {
        frame[1] = FrameType.ERROR;
      },
    ]) {
      let armed = false;
      const link = connect({
        mtu: 185,
        wire: (frame, from) => {
          const copy = frame.slice();
          if (armed && from === "peripheral") alter(copy);
          return [copy];
        },
      });
      await link.central.send(message(FrameType.SELECT, 4));
      await link.peripheral.receive(receiveOptions);
      link.central.secure(kenc);
      link.peripheral.secure(kenc);
      armed = true;
      await link.peripheral.send(message(FrameType.DEVICE_CONFIG, 100));
      expect(await rejection(link.central.receive(receiveOptions))).toBeInstanceOf(DecryptionError);
    }
  });

  it("fails a message reflected back to its sender", async () => {
    const { channels, central } = await securedPair();
    const before = channels.central.sent.length;
    await central.send(message(FrameType.ENDPOINT_READY, 30));
    for (const frame of channels.central.sent.slice(before)) channels.central.arrive(frame);
    expect(await rejection(central.receive(receiveOptions))).toBeInstanceOf(DecryptionError);
  });

  it("rejects plaintext on a secured link (downgrade) and sealed messages before secure()", async () => {
    const { channels, peripheral } = await securedPair();
    for (const frame of chunkMessage({ type: FrameType.ENDPOINT_READY, flags: 0 }, new Uint8Array(17), 20)) {
      channels.peripheral.arrive(frame);
    }
    expect(await frameErrorOf(peripheral.receive(receiveOptions))).toBe("NOT_ENCRYPTED");

    const early = connect({ mtu: 23 });
    early.peripheral.secure(kenc);
    await early.peripheral.send(message(FrameType.SPAKE2_REQUEST, 10));
    expect(await frameErrorOf(early.central.receive(receiveOptions))).toBe("NOT_SECURED");
  });

  it("opens a message sealed before the receiver called secure() once it has", async () => {
    const { central, peripheral } = connect({ mtu: 23 });
    peripheral.secure(kenc);
    await peripheral.send(message(FrameType.DEVICE_CONFIG, 50));
    central.secure(kenc);
    expect(await central.receive(receiveOptions)).toEqual(message(FrameType.DEVICE_CONFIG, 50));
  });

  it("takes one key, once", () => {
    const { central } = connect({ mtu: 23 });
    expect(() => central.secure(new Uint8Array(31))).toThrow(InvalidLengthError);
    expect(central.secured).toBe(false);
    central.secure(kenc);
    expect(() => central.secure(kenc)).toThrow(expect.objectContaining({ code: "ALREADY_SECURED" }));
  });
});

describe("FramedLink timeouts, errors and closing", () => {
  it("times a receive out on the injected clock", async () => {
    const { clock, central } = connect({ mtu: 23 });
    const pending = rejection(central.receive(receiveOptions));
    clock.advance(RESPONSE_TIMEOUT_MS - 1);
    await flush();
    clock.advance(1);
    expect(await pending).toBeInstanceOf(TimeoutError);
    expect(clock.pending).toBe(0);
  });

  it("drops a message whose next chunk is 5 s late, then carries the next one", async () => {
    let dropLast = true;
    const { clock, central, peripheral } = connect({
      mtu: 23,
      wire: (frame, from) => (from === "peripheral" && dropLast && frame[2] === frame[3]! - 1 ? [] : [frame]),
    });
    const pending = rejection(central.receive({ timeoutMs: CONFIG_TIMEOUT_MS }));
    await peripheral.send(message(FrameType.DEVICE_CONFIG, 100));
    await flush();
    clock.advance(MISSING_CHUNK_TIMEOUT_MS - 1);
    await flush();
    clock.advance(1);
    const error = await pending;
    expect(error).toBeInstanceOf(FrameError);
    expect((error as FrameError).code).toBe("CHUNK_TIMEOUT");
    dropLast = false;
    await peripheral.send(message(FrameType.DEVICE_CONFIG, 100, 3));
    expect(await central.receive(receiveOptions)).toEqual(message(FrameType.DEVICE_CONFIG, 100, 3));
    expect(clock.pending).toBe(0);
  });

  it("restarts the missing-chunk cut-off with every chunk", async () => {
    const held: Uint8Array[] = [];
    const { clock, channels, central, peripheral } = connect({
      mtu: 23,
      wire: (frame, from) => {
        if (from === "central") return [frame];
        held.push(frame);
        return [];
      },
    });
    const pending = central.receive({ timeoutMs: CONFIG_TIMEOUT_MS });
    await peripheral.send(message(FrameType.DEVICE_CONFIG, 40));
    expect(held.length).toBe(3);
    for (const frame of held) {
      channels.central.arrive(frame);
      clock.advance(MISSING_CHUNK_TIMEOUT_MS - 1);
    }
    expect(await pending).toEqual(message(FrameType.DEVICE_CONFIG, 40));
  });

  it("never interleaves the frames of concurrent sends", async () => {
    const { central, peripheral } = connect({ mtu: 23 });
    const sends = [0, 1, 2].map((i) => peripheral.send(message(FrameType.DEVICE_CONFIG, 50 + i, i)));
    await Promise.all(sends);
    for (const i of [0, 1, 2])
      expect(await central.receive(receiveOptions)).toEqual(message(FrameType.DEVICE_CONFIG, 50 + i, i));
  });

  it("reports malformed frames typed and keeps working", async () => {
    const { channels, central, peripheral } = connect({ mtu: 185 });
    channels.central.arrive(Uint8Array.of(9, 9, 9));
    channels.central.arrive(Uint8Array.of(1, FrameType.LINK_PARAMS, 0, 1, 1, 0, 0));
    channels.central.arrive(Uint8Array.of(1, FrameType.LINK_PARAMS, 0, 1, 2, FrameFlags.ENCRYPTED, 0, 100));
    expect(await frameErrorOf(central.receive(receiveOptions))).toBe("FRAME_TOO_SHORT");
    expect(await frameErrorOf(central.receive(receiveOptions))).toBe("BAD_LINK_PARAMS");
    expect(await frameErrorOf(central.receive(receiveOptions))).toBe("BAD_LINK_PARAMS");
    await peripheral.send(message(FrameType.SPAKE2_REQUEST, 60));
    expect(await central.receive(receiveOptions)).toEqual(message(FrameType.SPAKE2_REQUEST, 60));
  });

  it("answers random frames only with typed errors", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 20 }),
        fc.boolean(),
        async (frames, secured) => {
          const { clock, channels, central } = connect({ mtu: 23 }, { maxQueuedMessages: 64 });
          if (secured) central.secure(kenc);
          for (const frame of frames) channels.central.arrive(frame);
          while (true) {
            const next = central.receive({ timeoutMs: 1 });
            clock.advance(1);
            const outcome = await next.then(
              () => undefined,
              (error: unknown) => error,
            );
            if (outcome instanceof TimeoutError) break;
            if (outcome !== undefined)
              expect(outcome instanceof FrameError || outcome instanceof DecryptionError).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rejects pending and later calls with TransportError when the peer disconnects", async () => {
    const { central, peripheral } = connect({ mtu: 23 });
    const pending = rejection(central.receive(receiveOptions));
    await peripheral.close();
    const error = await pending;
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).code).toBe("DISCONNECTED");
    expect(central.closed).toBe(true);
    expect(await rejection(central.send(message(FrameType.SELECT, 1)))).toBeInstanceOf(TransportError);
    expect(await rejection(central.receive(receiveOptions))).toBeInstanceOf(TransportError);
  });

  it("still delivers a peer's last message after it hangs up", async () => {
    const { central, peripheral } = connect({ mtu: 23 });
    central.secure(kenc);
    peripheral.secure(kenc);
    await peripheral.send(message(FrameType.OP_CONTROL_FLOW, 3));
    await peripheral.close();
    expect(await central.receive(receiveOptions)).toEqual(message(FrameType.OP_CONTROL_FLOW, 3));
    expect(((await rejection(central.receive(receiveOptions))) as TransportError).code).toBe("NOT_CONNECTED");
  });

  it("closes itself when a send is aborted half-way, since the peer holds half a message", async () => {
    const controller = new AbortController();
    let frames = 0;
    const { central, peripheral } = connect({
      mtu: 23,
      wire: (frame) => {
        if (++frames === 3) controller.abort();
        return [frame];
      },
    });
    const error = await rejection(central.send(message(FrameType.DEVICE_CONFIG_ACK, 200), controller));
    expect(error).toBeInstanceOf(AbortedError);
    expect(central.closed).toBe(true);
    expect(peripheral.closed).toBe(true);
  });

  it("rejects receive on abort", async () => {
    const { central } = connect({ mtu: 23 });
    const controller = new AbortController();
    const pending = rejection(central.receive({ ...receiveOptions, signal: controller.signal }));
    controller.abort();
    expect(await pending).toBeInstanceOf(AbortedError);
    expect(await rejection(central.receive({ ...receiveOptions, signal: controller.signal }))).toBeInstanceOf(
      AbortedError,
    );
  });

  it("closes rather than queue without bound for a protocol that is not reading", async () => {
    const { central, peripheral } = connect({ mtu: 23 }, { maxQueuedMessages: 2 });
    for (let i = 0; i < 3; i++) await peripheral.send(message(FrameType.ERROR, 4, i)).catch(() => undefined);
    await flush();
    expect(central.closed).toBe(true);
    expect(await central.receive(receiveOptions)).toEqual(message(FrameType.ERROR, 4, 0));
    expect(await central.receive(receiveOptions)).toEqual(message(FrameType.ERROR, 4, 1));
    const error = (await rejection(central.receive(receiveOptions))) as TransportError;
    expect((error.cause as TransportError).code).toBe("RECEIVE_OVERFLOW");
  });

  it("closes idempotently and rejects pending receives", async () => {
    const { central, peripheral } = connect({ mtu: 23 });
    const pending = rejection(central.receive(receiveOptions));
    await central.close();
    await central.close();
    expect(await pending).toBeInstanceOf(TransportError);
    expect(peripheral.closed).toBe(true);
  });
});
