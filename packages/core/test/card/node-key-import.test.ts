import { describe, expect, it } from "vitest";
import { nobleCrypto } from "../../src/index.ts";
import { nodeCrypto } from "../../src/node/index.ts";

// The Node back-end keeps imported public keys between calls and imports private keys per
// call; neither may sign with stale key material or verify against the wrong key.
describe("node back-end key reuse", () => {
  it("a private key buffer rewritten in place signs with its new bytes", () => {
    const a = nodeCrypto.generateKeyPair();
    const b = nodeCrypto.generateKeyPair();
    const buffer = a.privateKey.slice();
    const message = Uint8Array.of(1, 2, 3);
    expect(nobleCrypto.ecdsaVerify(a.publicKey, message, nodeCrypto.ecdsaSign(buffer, message))).toBe(true);
    buffer.set(b.privateKey);
    const signature = nodeCrypto.ecdsaSign(buffer, message);
    expect(nobleCrypto.ecdsaVerify(b.publicKey, message, signature)).toBe(true);
    expect(nobleCrypto.ecdsaVerify(a.publicKey, message, signature)).toBe(false);
    buffer.fill(0);
    expect(() => nodeCrypto.ecdsaSign(buffer, message)).toThrow(
      expect.objectContaining({ code: "INVALID_SCALAR" }),
    );
  });

  it("verification keys are told apart by every byte, also past the cache size", () => {
    const message = Uint8Array.of(9);
    const pairs = Array.from({ length: 70 }, () => nodeCrypto.generateKeyPair());
    const signatures = pairs.map((p) => nobleCrypto.ecdsaSign(p.privateKey, message));
    for (const [i, p] of pairs.entries()) {
      expect(nodeCrypto.ecdsaVerify(p.publicKey, message, signatures[i]!)).toBe(true);
      expect(nodeCrypto.ecdsaVerify(p.publicKey, message, signatures[(i + 1) % pairs.length]!)).toBe(false);
    }
    const offCurve = pairs[0]!.publicKey.slice();
    offCurve[64]! ^= 1;
    expect(() => nodeCrypto.ecdsaVerify(offCurve, message, signatures[0]!)).toThrow(
      expect.objectContaining({ code: "INVALID_POINT" }),
    );
  });
});
