import { ed25519, ed25519_FROST } from "@noble/curves/ed25519.js";
import { p256_FROST } from "@noble/curves/nist.js";
import { schnorr, schnorr_FROST } from "@noble/curves/secp256k1.js";
import { describe, expect, it } from "vitest";
import {
  type CiphersuiteName,
  chainPublicKey,
  chainPublicKeyFormat,
  MpcError,
  utf8,
  verifyChainSignature,
} from "../../../src/index.ts";

const SUITES = { "secp256k1-taproot": schnorr_FROST, ed25519: ed25519_FROST, p256: p256_FROST } as const;

/** A 2-of-2 signature made by noble's FROST in one process (trusted dealer): the reference. */
function frostSigned(suite: CiphersuiteName, message: Uint8Array) {
  const frost = SUITES[suite];
  const { public: pub, secretShares } = frost.trustedDealer({ min: 2, max: 2 });
  const secrets = Object.values(secretShares);
  const rounds = secrets.map((s) => frost.commit(s));
  const commitments = rounds.map((r) => r.commitments);
  const shares = Object.fromEntries(
    secrets.map((s, i) => [s.identifier, frost.signShare(s, pub, rounds[i]!.nonces, commitments, message)]),
  );
  const signature = frost.aggregate(pub, commitments, message, shares);
  return { wallet: { ciphersuite: suite, groupPublicKey: pub.commitments[0]! }, signature };
}

describe("chain-native wallet encodings and the plain verifier", () => {
  it.each<[CiphersuiteName, string, number]>([
    ["secp256k1-taproot", "BIP340 x-only", 32],
    ["ed25519", "Ed25519", 32],
    ["p256", "SEC1 compressed", 33],
  ])(
    "%s: the key is %s (%d bytes) and a FROST signature verifies; another message does not",
    (suite, format, length) => {
      const message = utf8("pay 1 BTC to carol");
      const { wallet, signature } = frostSigned(suite, message);
      const key = chainPublicKey(wallet);
      expect([chainPublicKeyFormat(suite), key.length]).toEqual([format, length]);
      expect(verifyChainSignature(suite, key, message, signature)).toBe(true);
      expect(verifyChainSignature(suite, key, utf8("pay 2 BTC to carol"), signature)).toBe(false);
    },
  );

  it("the encodings are the ones the chains' own verifiers take", () => {
    const message = utf8("hello");
    const taproot = frostSigned("secp256k1-taproot", message);
    expect(schnorr.verify(taproot.signature, message, chainPublicKey(taproot.wallet))).toBe(true);
    const ed = frostSigned("ed25519", message);
    expect(ed25519.verify(ed.signature, message, chainPublicKey(ed.wallet))).toBe(true);
  });

  it("a key or signature of the wrong length is a typed BAD_ENCODING; garbage of the right length is false", () => {
    const message = utf8("hello");
    const { wallet, signature } = frostSigned("p256", message);
    const key = chainPublicKey(wallet);
    for (const call of [
      () => verifyChainSignature("p256", key.subarray(1), message, signature),
      () => verifyChainSignature("p256", key, message, signature.subarray(1)),
    ]) {
      expect(call).toThrow(MpcError);
      expect(call).toThrow(expect.objectContaining({ code: "BAD_ENCODING" }));
    }
    expect(verifyChainSignature("p256", new Uint8Array(33).fill(7), message, signature)).toBe(false);
    expect(verifyChainSignature("ed25519", new Uint8Array(32).fill(255), message, new Uint8Array(64))).toBe(
      false,
    );
  });
});
