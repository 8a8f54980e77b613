import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CardProtocolError,
  decodeUserId,
  encodeUserId,
  fromHex,
  MAX_USER_ID_BYTES,
} from "../../src/index.ts";

describe("user id (SEND_USER_IDENTITY, docs/protocol.md §4.5 step 14)", () => {
  it("refuses a leading UTF-8 byte-order mark instead of stripping it", () => {
    for (const hex of ["efbbbf616c696365", "efbbbf", "efbbbfefbbbf61"]) {
      expect(() => decodeUserId(fromHex(hex)), hex).toThrow(/byte-order mark/);
    }
    expect(() => encodeUserId("\uFEFFalice")).toThrow(/byte-order mark/);
    // U+FEFF after the first character is an ordinary (zero-width) character, kept as sent.
    expect(decodeUserId(fromHex("61efbbbf"))).toBe("a\uFEFF");
  });

  it("refuses empty, over-long and non-UTF-8 ids", () => {
    expect(() => decodeUserId(new Uint8Array(0))).toThrow(CardProtocolError);
    expect(() => decodeUserId(new Uint8Array(MAX_USER_ID_BYTES + 1).fill(0x61))).toThrow(CardProtocolError);
    expect(() => decodeUserId(fromHex("c0af"))).toThrow(/not UTF-8/);
  });

  it("round-trips every id the phone can send", () => {
    const ids = fc
      .string({ unit: "grapheme", minLength: 1, maxLength: 64 })
      .filter((s) => !s.startsWith("\uFEFF") && new TextEncoder().encode(s).length <= MAX_USER_ID_BYTES);
    fc.assert(
      fc.property(ids, (id) => {
        expect(decodeUserId(encodeUserId(id))).toBe(id);
      }),
    );
  });

  it("gives a string or a CardProtocolError for any bytes, and the string re-encodes to the same bytes", () => {
    const bomBiased = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 20 }).map((b) => Uint8Array.of(0xef, 0xbb, 0xbf, ...b)),
    );
    fc.assert(
      fc.property(bomBiased, (bytes) => {
        let id: string;
        try {
          id = decodeUserId(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(CardProtocolError);
          return;
        }
        expect(encodeUserId(id)).toEqual(bytes);
      }),
      { numRuns: 2000 },
    );
  });
});
