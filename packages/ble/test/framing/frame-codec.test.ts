import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeFrame,
  encodeFrame,
  FRAME_HEADER_SIZE,
  FrameError,
  FrameFlags,
  FrameType,
  isKnownFrameType,
  isMessageType,
  MAX_FRAME_BODY,
} from "../../src/index.ts";
import { frameErrorCode } from "./helpers/frame-error-code.ts";

const knownType = fc.integer({ min: 0, max: 0xff }).filter(isKnownFrameType);

function frameOf(bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

describe("frame codec", () => {
  it("lays out the 6-byte header of seed 001 §2", () => {
    const frame = encodeFrame(
      { type: FrameType.DEVICE_CONFIG, seq: 2, totalSeq: 5, flags: FrameFlags.ENCRYPTED },
      Uint8Array.of(0xaa, 0xbb, 0xcc),
    );
    expect([...frame]).toEqual([0x01, 0x06, 0x02, 0x05, 0x03, 0x01, 0xaa, 0xbb, 0xcc]);
  });

  it("round-trips every valid header and body", () => {
    fc.assert(
      fc.property(
        knownType,
        fc
          .integer({ min: 1, max: 255 })
          .chain((totalSeq) => fc.tuple(fc.constant(totalSeq), fc.integer({ min: 0, max: totalSeq - 1 }))),
        fc.constantFrom(0, FrameFlags.ENCRYPTED),
        fc.uint8Array({ maxLength: MAX_FRAME_BODY }),
        (type, [totalSeq, seq], flags, body) => {
          const frame = encodeFrame({ type, seq, totalSeq, flags }, body);
          expect(frame.length).toBe(FRAME_HEADER_SIZE + body.length);
          const decoded = decodeFrame(frame);
          expect(decoded.header).toEqual({
            version: 1,
            type,
            seq,
            totalSeq,
            payloadLength: body.length,
            flags,
          });
          expect(decoded.body).toEqual(body);
        },
      ),
    );
  });

  it("rejects each malformed header with its own code", () => {
    expect(frameErrorCode(() => decodeFrame(frameOf([1, 1, 0, 1, 0])))).toBe("FRAME_TOO_SHORT");
    expect(frameErrorCode(() => decodeFrame(frameOf([2, 1, 0, 1, 0, 0])))).toBe("BAD_VERSION");
    expect(frameErrorCode(() => decodeFrame(frameOf([0, 1, 0, 1, 0, 0])))).toBe("BAD_VERSION");
    expect(frameErrorCode(() => decodeFrame(frameOf([1, 0x0b, 0, 1, 0, 0])))).toBe("UNKNOWN_TYPE");
    expect(frameErrorCode(() => decodeFrame(frameOf([1, 0x21, 0, 1, 0, 0])))).toBe("UNKNOWN_TYPE");
    expect(frameErrorCode(() => decodeFrame(frameOf([1, 1, 0, 0, 0, 0])))).toBe("BAD_TOTAL_SEQ");
    expect(frameErrorCode(() => decodeFrame(frameOf([1, 1, 3, 3, 0, 0])))).toBe("SEQ_OUT_OF_RANGE");
    expect(frameErrorCode(() => decodeFrame(frameOf([1, 1, 0, 1, 2, 0, 0xaa])))).toBe("LENGTH_MISMATCH");
    expect(frameErrorCode(() => decodeFrame(frameOf([1, 1, 0, 1, 0, 0, 0xaa])))).toBe("LENGTH_MISMATCH");
    expect(frameErrorCode(() => decodeFrame(frameOf([1, 1, 0, 1, 0, 0x02])))).toBe("RESERVED_FLAGS");
    expect(frameErrorCode(() => decodeFrame(new Uint8Array(FRAME_HEADER_SIZE + 256)))).toBe("BAD_VERSION");
    const oversize = new Uint8Array(FRAME_HEADER_SIZE + 256);
    oversize.set([1, 1, 0, 1, 255, 0]);
    expect(frameErrorCode(() => decodeFrame(oversize))).toBe("LENGTH_MISMATCH");
  });

  it("refuses to encode what a receiver would reject", () => {
    const body = new Uint8Array(1);
    expect(frameErrorCode(() => encodeFrame({ type: 0x0b, seq: 0, totalSeq: 1, flags: 0 }, body))).toBe(
      "UNKNOWN_TYPE",
    );
    expect(frameErrorCode(() => encodeFrame({ type: 1.5, seq: 0, totalSeq: 1, flags: 0 }, body))).toBe(
      "UNKNOWN_TYPE",
    );
    expect(frameErrorCode(() => encodeFrame({ type: 1, seq: 0, totalSeq: 256, flags: 0 }, body))).toBe(
      "BAD_TOTAL_SEQ",
    );
    expect(frameErrorCode(() => encodeFrame({ type: 1, seq: 1, totalSeq: 1, flags: 0 }, body))).toBe(
      "SEQ_OUT_OF_RANGE",
    );
    expect(frameErrorCode(() => encodeFrame({ type: 1, seq: 0.5, totalSeq: 2, flags: 0 }, body))).toBe(
      "SEQ_OUT_OF_RANGE",
    );
    expect(frameErrorCode(() => encodeFrame({ type: 1, seq: 0, totalSeq: 1, flags: 0x80 }, body))).toBe(
      "RESERVED_FLAGS",
    );
    expect(
      frameErrorCode(() => encodeFrame({ type: 1, seq: 0, totalSeq: 1, flags: 0 }, new Uint8Array(256))),
    ).toBe("LENGTH_MISMATCH");
  });

  it("only ever throws FrameError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeFrame(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(FrameError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("registers the seed types, the reserved ranges and nothing else as messages", () => {
    const messages = Array.from({ length: 256 }, (_, t) => t).filter(isMessageType);
    expect(messages).toEqual([
      ...Array.from({ length: 10 }, (_, i) => 0x01 + i),
      ...Array.from({ length: 16 }, (_, i) => 0x10 + i),
      0x30,
      0x7f,
    ]);
    expect(isMessageType(FrameType.LINK_PARAMS)).toBe(false);
    expect(isKnownFrameType(FrameType.LINK_PARAMS)).toBe(true);
  });
});
