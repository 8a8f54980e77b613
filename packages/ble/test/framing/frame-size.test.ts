import { TransportError } from "@pairkit/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeLinkParams,
  encodeLinkParams,
  FrameError,
  frameSizeForMtu,
  MAX_FRAME_SIZE,
  MIN_FRAME_SIZE,
  negotiateFrameSize,
} from "../../src/index.ts";
import { frameErrorCode } from "./helpers/frame-error-code.ts";

describe("frame size rule", () => {
  it("is MTU − 3, capped at 261", () => {
    expect([23, 185, 247, 517].map(frameSizeForMtu)).toEqual([20, 182, 244, 261]);
    expect(frameSizeForMtu(264)).toBe(261);
    expect(frameSizeForMtu(undefined)).toBeUndefined();
    expect(() => frameSizeForMtu(22)).toThrow(TransportError);
  });

  it("takes the smaller known side, and 20 when neither knows", () => {
    expect(negotiateFrameSize(undefined, undefined)).toBe(MIN_FRAME_SIZE);
    expect(negotiateFrameSize(undefined, 182)).toBe(182);
    expect(negotiateFrameSize(244, undefined)).toBe(244);
    expect(negotiateFrameSize(244, 182)).toBe(182);
    expect(negotiateFrameSize(182, 244)).toBe(182);
  });
});

describe("LINK_PARAMS", () => {
  it("round-trips every announceable frame size and 'unknown'", () => {
    expect(decodeLinkParams(encodeLinkParams({ maxFrameSize: undefined }))).toEqual({
      maxFrameSize: undefined,
    });
    expect([...encodeLinkParams({ maxFrameSize: 244 })]).toEqual([0x00, 0xf4]);
    fc.assert(
      fc.property(fc.integer({ min: MIN_FRAME_SIZE, max: MAX_FRAME_SIZE }), (size) => {
        expect(decodeLinkParams(encodeLinkParams({ maxFrameSize: size }))).toEqual({ maxFrameSize: size });
      }),
    );
  });

  it("rejects a wrong length and sizes no link can have", () => {
    expect(frameErrorCode(() => decodeLinkParams(Uint8Array.of(0)))).toBe("BAD_LINK_PARAMS");
    expect(frameErrorCode(() => decodeLinkParams(Uint8Array.of(0, 20, 0)))).toBe("BAD_LINK_PARAMS");
    expect(frameErrorCode(() => decodeLinkParams(Uint8Array.of(0, 19)))).toBe("BAD_LINK_PARAMS");
    expect(frameErrorCode(() => decodeLinkParams(Uint8Array.of(1, 6)))).toBe("BAD_LINK_PARAMS");
    expect(frameErrorCode(() => encodeLinkParams({ maxFrameSize: 300 }))).toBe("BAD_LINK_PARAMS");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4 }), (body) => {
        try {
          decodeLinkParams(body);
        } catch (error) {
          expect(error).toBeInstanceOf(FrameError);
        }
      }),
    );
  });
});
