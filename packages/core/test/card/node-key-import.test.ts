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

  // OpenSSL checks peer points itself on the Node back-end; both back-ends must refuse alike.
  it.each([nodeCrypto, nobleCrypto])("$name ECDH and verification refuse every bad peer point", (crypto) => {
    const own = crypto.generateKeyPair();
    const peer = crypto.generateKeyPair();
    expect(crypto.ecdh(own.privateKey, peer.publicKey)).toEqual(
      nobleCrypto.ecdh(peer.privateKey, own.publicKey),
    );
    const offCurve = peer.publicKey.slice();
    offCurve[64]! ^= 1;
    // x = 2^256 - 1 is not a field element (above p), whatever y is.
    const xTooLarge = peer.publicKey.slice();
    xTooLarge.fill(0xff, 1, 33);
    const compressed = peer.publicKey.slice();
    compressed[0] = 0x02;
    const signature = nobleCrypto.ecdsaSign(peer.privateKey, Uint8Array.of(1));
    for (const bad of [offCurve, xTooLarge, compressed]) {
      expect(() => crypto.ecdh(own.privateKey, bad)).toThrow(
        expect.objectContaining({ code: "INVALID_POINT" }),
      );
      expect(() => crypto.ecdsaVerify(bad, Uint8Array.of(1), signature)).toThrow(
        expect.objectContaining({ code: "INVALID_POINT" }),
      );
    }
    expect(() => crypto.ecdh(own.privateKey, peer.publicKey.subarray(0, 64))).toThrow(
      expect.objectContaining({ code: "INVALID_LENGTH" }),
    );
  });
});
