import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bigintToBytes,
  bytesToBigint,
  constantTimeEqual,
  fromHex,
  PairkitError,
  toHex,
  wipe,
} from "../src/index.ts";
import { nodeCrypto } from "../src/node/index.ts";

describe("byte helpers", () => {
  it("constantTimeEqual agrees with ordinary equality", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        expect(constantTimeEqual(a, b)).toBe(toHex(a) === toHex(b));
        expect(constantTimeEqual(a, a.slice())).toBe(true);
      }),
    );
  });

  it("hex and big-endian integer codecs round-trip; bad hex is a typed error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(toHex(fromHex(toHex(bytes)))).toBe(toHex(bytes));
        expect(toHex(bigintToBytes(bytesToBigint(bytes), bytes.length))).toBe(toHex(bytes));
      }),
    );
    expect(() => fromHex("abc")).toThrow(PairkitError);
    expect(() => fromHex("zz")).toThrow(PairkitError);
  });

  it("wipe zeroes every buffer it is given", () => {
    const a = Uint8Array.of(1, 2, 3);
    const b = Uint8Array.of(4);
    wipe(a, undefined, b);
    expect([...a, ...b]).toEqual([0, 0, 0, 0]);
  });

  it("Node key pairs always carry 32-byte private keys (OpenSSL drops leading zeros)", () => {
    for (let i = 0; i < 1500; i++) expect(nodeCrypto.generateKeyPair().privateKey.length).toBe(32);
  });
});
