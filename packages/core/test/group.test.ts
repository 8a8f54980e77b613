import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nobleGroup, P256, P256_ORDER, toHex } from "../src/index.ts";
import { nodeGroup } from "../src/node/index.ts";

const scalar = fc.bigInt({ min: 1n, max: P256_ORDER - 1n });
const point = scalar.map((k) => P256.BASE.multiply(k));
// fast-check favours boundary scalars, so sums such as 44·G + (n−44)·G = identity do occur.
const hex = (p: ReturnType<typeof P256.BASE.multiply>) => (p.is0() ? "identity" : toHex(p.toBytes(false)));

describe("Node group operations (full points from x-only ECDH) match noble", () => {
  it("mulBaseAdd, mul, mulTwoBases, mulTwoScalars on random inputs", () => {
    fc.assert(
      fc.property(scalar, scalar, point, point, (k1, k2, P1, P2) => {
        expect(hex(nodeGroup.mulBaseAdd(k1, P1))).toBe(hex(nobleGroup.mulBaseAdd(k1, P1)));
        expect(hex(nodeGroup.mul(k1, P1))).toBe(hex(nobleGroup.mul(k1, P1)));
        expect(nodeGroup.mulTwoBases(k1, P1, P2).map(hex)).toEqual(
          nobleGroup.mulTwoBases(k1, P1, P2).map(hex),
        );
        expect(nodeGroup.mulTwoScalars(k1, k2, P1).map(hex)).toEqual(
          nobleGroup.mulTwoScalars(k1, k2, P1).map(hex),
        );
      }),
      { numRuns: 60 },
    );
  });

  it("takes the fallback paths where an anchor degenerates", () => {
    const P = P256.BASE.multiply(987654321n);
    const last = P256_ORDER - 1n; // k + 1 ≡ 0
    expect(hex(nodeGroup.mul(last, P))).toBe(hex(P.negate()));
    expect(nodeGroup.mulTwoBases(last, P, P.double()).map(hex)).toEqual([
      hex(P.negate()),
      hex(P.double().negate()),
    ]);
    // P2 = −P1: the anchor P1 + P2 is the identity.
    expect(nodeGroup.mulTwoBases(5n, P, P.negate()).map(hex)).toEqual([
      hex(P.multiply(5n)),
      hex(P.negate().multiply(5n)),
    ]);
    // k1 + k2 + 1 ≡ 0.
    expect(nodeGroup.mulTwoScalars(3n, P256_ORDER - 4n, P).map(hex)).toEqual([
      hex(P.multiply(3n)),
      hex(P.multiply(P256_ORDER - 4n)),
    ]);
    // k1 = k2: two candidates coincide in x, so signs must come from separate anchors.
    expect(nodeGroup.mulTwoScalars(7n, 7n, P).map(hex)).toEqual([hex(P.multiply(7n)), hex(P.multiply(7n))]);
  });
});
