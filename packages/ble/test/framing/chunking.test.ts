import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AssembledMessage,
  chunkMessage,
  encodeFrame,
  FrameError,
  FrameFlags,
  FrameType,
  frameCount,
  MAX_FRAME_SIZE,
  MIN_FRAME_SIZE,
  Reassembler,
} from "../../src/index.ts";
import { frameErrorCode } from "./helpers/frame-error-code.ts";

const config = { type: FrameType.DEVICE_CONFIG, flags: 0 };
const frameSize = fc.integer({ min: MIN_FRAME_SIZE, max: MAX_FRAME_SIZE });

function assemble(reassembler: Reassembler, frames: readonly Uint8Array[]): AssembledMessage | undefined {
  let message: AssembledMessage | undefined;
  for (const [i, frame] of frames.entries()) {
    message = reassembler.push(frame);
    if (i < frames.length - 1) expect(message).toBeUndefined();
  }
  return message;
}

/** A 3-chunk DEVICE_CONFIG whose frames tests can reorder, drop or alter. */
function threeChunks(): Uint8Array[] {
  return chunkMessage(
    config,
    Uint8Array.from({ length: 30 }, (_, i) => i),
    MIN_FRAME_SIZE,
  );
}

describe("chunker", () => {
  it("fills frames up to the frame size, in order", () => {
    const frames = chunkMessage(config, new Uint8Array(30), MIN_FRAME_SIZE);
    expect(frames.map((f) => f.length)).toEqual([20, 20, 8]);
    expect(frames.map((f) => [f[2], f[3], f[4]])).toEqual([
      [0, 3, 14],
      [1, 3, 14],
      [2, 3, 2],
    ]);
  });

  it("sends an empty message as one empty frame", () => {
    const frames = chunkMessage(config, new Uint8Array(0), MIN_FRAME_SIZE);
    expect(frames.map((f) => [...f])).toEqual([[1, FrameType.DEVICE_CONFIG, 0, 1, 0, 0]]);
  });

  it("caps the body at 255 bytes even where the MTU would carry more", () => {
    expect(chunkMessage(config, new Uint8Array(600), MAX_FRAME_SIZE).map((f) => f.length)).toEqual([
      261, 261, 96,
    ]);
  });

  it("refuses frame sizes outside 20–261 and messages past 255 frames", () => {
    expect(frameErrorCode(() => frameCount(10, 19))).toBe("BAD_FRAME_SIZE");
    expect(frameErrorCode(() => frameCount(10, 262))).toBe("BAD_FRAME_SIZE");
    expect(frameCount(255 * 14, MIN_FRAME_SIZE)).toBe(255);
    expect(frameErrorCode(() => frameCount(255 * 14 + 1, MIN_FRAME_SIZE))).toBe("MESSAGE_TOO_LARGE");
  });
});

describe("reassembler", () => {
  it("round-trips any message at any frame size", () => {
    const reassembler = new Reassembler({ maxMessageSize: 65_025 });
    fc.assert(
      fc.property(
        frameSize,
        fc.uint8Array({ maxLength: 4000 }),
        fc.constantFrom(0, FrameFlags.ENCRYPTED),
        (size, body, flags) => {
          fc.pre(body.length <= 255 * (size - 6));
          const frames = chunkMessage({ type: FrameType.DEVICE_CONFIG, flags }, body, size);
          for (const frame of frames) expect(frame.length).toBeLessThanOrEqual(size);
          const message = assemble(reassembler, frames);
          expect(message).toEqual({ type: FrameType.DEVICE_CONFIG, totalSeq: frames.length, flags, body });
          expect(reassembler.inProgress).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("copies chunk bodies, so a reused receive buffer cannot alter a message", () => {
    const reassembler = new Reassembler();
    const [first, second, third] = threeChunks();
    reassembler.push(first!);
    first!.fill(0xee);
    reassembler.push(second!);
    expect(reassembler.push(third!)!.body).toEqual(Uint8Array.from({ length: 30 }, (_, i) => i));
  });

  it("copies Node Buffers too, whose slice() would share memory", () => {
    const reassembler = new Reassembler();
    const [first, second, third] = threeChunks().map((frame) => Buffer.from(frame));
    reassembler.push(first!);
    first!.fill(0xee);
    reassembler.push(second!);
    expect(reassembler.push(third!)!.body).toEqual(Uint8Array.from({ length: 30 }, (_, i) => i));
  });

  it.each([
    ["a duplicate chunk", (f: Uint8Array[]) => [f[0]!, f[0]!], "DUPLICATE_CHUNK"],
    ["a missing chunk", (f: Uint8Array[]) => [f[0]!, f[2]!], "MISSING_CHUNK"],
    ["a message starting mid-way", (f: Uint8Array[]) => [f[1]!], "MISSING_CHUNK"],
    [
      "a type change mid-message",
      (f: Uint8Array[]) => [
        f[0]!,
        encodeFrame({ type: FrameType.ERROR, seq: 1, totalSeq: 3, flags: 0 }, f[1]!.subarray(6)),
      ],
      "HEADER_CHANGED",
    ],
    [
      "a totalSeq change mid-message",
      (f: Uint8Array[]) => [f[0]!, encodeFrame({ ...config, seq: 1, totalSeq: 4 }, f[1]!.subarray(6))],
      "HEADER_CHANGED",
    ],
    [
      "a flags change mid-message",
      (f: Uint8Array[]) => [
        f[0]!,
        encodeFrame({ ...config, flags: FrameFlags.ENCRYPTED, seq: 1, totalSeq: 3 }, f[1]!.subarray(6)),
      ],
      "HEADER_CHANGED",
    ],
    [
      "another message interleaved",
      (f: Uint8Array[]) => [
        f[0]!,
        encodeFrame({ type: FrameType.ERROR, seq: 0, totalSeq: 1, flags: 0 }, new Uint8Array(1)),
      ],
      "HEADER_CHANGED",
    ],
    [
      "an empty chunk before the last",
      (f: Uint8Array[]) => [f[0]!, encodeFrame({ ...config, seq: 1, totalSeq: 3 }, new Uint8Array(0))],
      "EMPTY_CHUNK",
    ],
    ["a frame cut short in flight", (f: Uint8Array[]) => [f[0]!, f[1]!.subarray(0, 12)], "LENGTH_MISMATCH"],
  ] as const)("rejects %s and keeps no partial state", (_, alter, code) => {
    const reassembler = new Reassembler();
    const altered = alter(threeChunks());
    const last = altered.at(-1)!;
    for (const frame of altered.slice(0, -1)) reassembler.push(frame);
    expect(frameErrorCode(() => reassembler.push(last))).toBe(code);
    expect(reassembler.inProgress).toBe(false);
    expect(assemble(reassembler, threeChunks())?.body.length).toBe(30);
  });

  it("rejects a message growing past the size limit as soon as it does", () => {
    const reassembler = new Reassembler({ maxMessageSize: 20 });
    const frames = threeChunks();
    reassembler.push(frames[0]!);
    expect(frameErrorCode(() => reassembler.push(frames[1]!))).toBe("MESSAGE_TOO_LARGE");
    expect(reassembler.inProgress).toBe(false);
  });

  it("forgets a partial message on reset", () => {
    const reassembler = new Reassembler();
    const frames = threeChunks();
    reassembler.push(frames[0]!);
    expect(reassembler.inProgress).toBe(true);
    reassembler.reset();
    expect(reassembler.inProgress).toBe(false);
    expect(frameErrorCode(() => reassembler.push(frames[1]!))).toBe("MISSING_CHUNK");
  });

  it("only ever throws FrameError on random frames, and recovers after each", () => {
    const validish = fc
      .tuple(
        fc.constantFrom(1, 1, 1, 2),
        fc.constantFrom(FrameType.SELECT, FrameType.DEVICE_CONFIG, 0x0b),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.constantFrom(0, 1, 2),
        fc.boolean(),
      )
      .map(([version, type, seq, totalSeq, body, flags, honestLength]) =>
        Uint8Array.of(
          version,
          type,
          seq,
          totalSeq,
          honestLength ? body.length : body.length ^ 1,
          flags,
          ...body,
        ),
      );
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), validish), { maxLength: 30 }),
        (frames) => {
          const reassembler = new Reassembler({ maxMessageSize: 50 });
          for (const frame of frames) {
            try {
              const message = reassembler.push(frame);
              if (message) expect(message.body.length).toBeLessThanOrEqual(50);
            } catch (error) {
              expect(error).toBeInstanceOf(FrameError);
              expect(reassembler.inProgress).toBe(false);
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
