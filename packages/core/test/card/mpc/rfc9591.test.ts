import type { FROST } from "@noble/curves/abstract/frost.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { bytesToNumberBE, bytesToNumberLE } from "@noble/curves/utils.js";
import { describe, expect, it } from "vitest";
import { type CiphersuiteName, ciphersuiteByName, fromHex, identifierOf, toHex } from "../../../src/index.ts";

/**
 * RFC 9591 Appendix E test vectors (FROST(P-256, SHA-256) E.4 and FROST(Ed25519, SHA-512) E.1),
 * run through the library exactly as pairkit calls it: catches a wrong suite, a wrong
 * identifier encoding or a wrong argument order in our use of @noble/curves.
 */
interface Vector {
  suite: CiphersuiteName;
  groupSecretKey: string;
  groupPublicKey: string;
  message: string;
  coefficient: string;
  shares: Record<number, string>;
  round1: Record<
    number,
    { hidingRandomness: string; bindingRandomness: string; hiding: string; binding: string }
  >;
  sigShares: Record<number, string>;
  sig: string;
  /** G·scalar for the verifying shares, in the suite's scalar byte order. */
  baseMul: (scalar: Uint8Array) => Uint8Array;
}

const VECTORS: Vector[] = [
  {
    suite: "p256",
    groupSecretKey: "8ba9bba2e0fd8c4767154d35a0b7562244a4aaf6f36c8fb8735fa48b301bd8de",
    groupPublicKey: "023a309ad94e9fe8a7ba45dfc58f38bf091959d3c99cfbd02b4dc00585ec45ab70",
    message: "74657374",
    coefficient: "80f25e6c0709353e46bfbe882a11bdbb1f8097e46340eb8673b7e14556e6c3a4",
    shares: {
      1: "0c9c1a0fe806c184add50bbdcac913dda73e482daf95dcb9f35dbb0d8a9f7731",
      2: "8d8e787bef0ff6c2f494ca45f4dad198c6bee01212d6c84067159c52e1863ad5",
      3: "0e80d6e8f6192c003b5488ce1eec8f5429587d48cf001541e713b2d53c09d928",
    },
    round1: {
      1: {
        hidingRandomness: "4a8477d587f118308d3069e63995feec76f5d9b83ab7d9bce2fc8011d3462bb4",
        bindingRandomness: "62cbcda4d3d0df22b8dcc973714bc50c4ebb12caed8266df5e1a49cb73c0bcff",
        hiding: "0211fe5268b9341f6de336fbb797effb21160bc836be0a7521ba02864019c94e97",
        binding: "03022d2adb2825f4233c21e6a182a91078368bc6b6b2736586a016d2656a14937a",
      },
      3: {
        hidingRandomness: "da6c48369ed5170e8000a3d379c07c426a98620e7f7835334c87721e090188bc",
        bindingRandomness: "b9c65da6de960b4c3eea5fb951e51aba852a91b7f893fbf8976c7a945e41d86d",
        hiding: "02d4bfd0ce577be72c1e9d1dd981490a15bf56518d194db0b61bfb3deb00c85d21",
        binding: "02a03c9990a3f79be07da4531ea8e2e90afbaf74ea31731f6d98113370a003f804",
      },
    },
    sigShares: {
      1: "3913cccb804dd81498c9f2873ce7f7d39accf7def963ee2e18817955462ca88a",
      3: "9149aa8ac15e6e7481f9e3816135bc9e18de1f5dd1f472073fa00c8ef8e749bb",
    },
    sig:
      "02aea65143565d19f2811d6c1d7a7486fdd57dd3f6b08d8653ca260ec0ebe00b61" +
      "ca5d775641ac46891ac3d6089e1db471b3ab173ccb586035582185e43f13f245",
    baseMul: (s) => p256.Point.BASE.multiply(bytesToNumberBE(s)).toBytes(true),
  },
  {
    suite: "ed25519",
    groupSecretKey: "7b1c33d3f5291d85de664833beb1ad469f7fb6025a0ec78b3a790c6e13a98304",
    groupPublicKey: "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673",
    message: "74657374",
    coefficient: "178199860edd8c62f5212ee91eff1295d0d670ab4ed4506866bae57e7030b204",
    shares: {
      1: "929dcc590407aae7d388761cddb0c0db6f5627aea8e217f4a033f2ec83d93509",
      2: "a91e66e012e4364ac9aaa405fcafd370402d9859f7b6685c07eed76bf409e80d",
      3: "d3cb090a075eb154e82fdb4b3cb507f110040905468bb9c46da8bdea643a9a02",
    },
    round1: {
      1: {
        hidingRandomness: "06894e04ee4aceec8619d5f6a0a180e2f47194d2ac306cba586b555e7c48d765",
        bindingRandomness: "40d6f879ff22e22409f7d808fed81f37118e7d3e4af71c0f44c60207553bcbce",
        hiding: "9b116f12589591a7e23fe8048059ab10ab48e67739e7a2fb3890f61a7999478c",
        binding: "c39b66b7dfccb122da24f13587f9a08c4347cae70046ca15169adf90ba65854d",
      },
      3: {
        hidingRandomness: "fa5d950626782aade9e33fa781376d4888c2d1de7c37518bc248eb818ed0cdde",
        bindingRandomness: "7459a4d14ded0e365b085271be8dc6600d5b88f3978a2174297ffa32001a5afc",
        hiding: "e679a2a971748ccfaabead4dbe8ac1def61275c186c79d471e1e45091ad1e687",
        binding: "b2a942478453fabb6bd3181c56ba657413447b4136e1daea2484d396d1a516b3",
      },
    },
    sigShares: {
      1: "60997f0142e43e8005027fe5ab7447dac00d22c2d7ddd9571a02613ba7d81c08",
      3: "79390e78bc59699c7af831f8f5fb478ec871a85f561a8641b5670ac4443f720f",
    },
    sig:
      "154fb694ee7fcb37bf2381d94488c2a84b03b3352ad085feca81ad26d45852b7" +
      "ecfe971ce4da95c4a95db93ac376b053897fca212ef85f99cf696bffeb178f07",
    baseMul: (s) => ed25519.Point.BASE.multiply(bytesToNumberLE(s)).toBytes(),
  },
];

/** An RNG that hands out the given 32-byte values in order (RFC 9591 §4.1 nonce randomness). */
function fixedRng(...values: string[]) {
  const queue = values.map(fromHex);
  return (length = 32) => {
    const next = queue.shift();
    if (!next || next.length !== length) throw new Error("fixed RNG exhausted");
    return next.slice();
  };
}

describe.each(VECTORS)("RFC 9591 vectors through pairkit's use of the library: $suite", (v) => {
  const { frost }: { frost: FROST } = ciphersuiteByName(v.suite);
  const id = (n: number) => identifierOf(ciphersuiteByName(v.suite), n);
  const pub = {
    signers: { min: 2, max: 3 },
    commitments: [fromHex(v.groupPublicKey), v.baseMul(fromHex(v.coefficient))],
    verifyingShares: Object.fromEntries([1, 2, 3].map((n) => [id(n), v.baseMul(fromHex(v.shares[n]!))])),
  };
  const message = fromHex(v.message);

  it("the shares are the group key's 2-of-3 sharing (vss_verify) and combine to the group secret", () => {
    for (const n of [1, 2, 3])
      frost.validateSecret({ identifier: id(n), signingShare: fromHex(v.shares[n]!) }, pub);
    const secret = frost.combineSecret(
      [1, 3].map((n) => ({ identifier: id(n), signingShare: fromHex(v.shares[n]!) })),
      pub.signers,
    );
    expect(toHex(secret)).toBe(v.groupSecretKey);
  });

  it("round one, round two and aggregate give the RFC's commitments, shares and signature", () => {
    const signers = [1, 3].map((n) => ({
      n,
      secret: { identifier: id(n), signingShare: fromHex(v.shares[n]!) },
    }));
    const rounds = signers.map(({ n, secret }) => {
      const r = v.round1[n]!;
      const out = frost.commit(secret, fixedRng(r.hidingRandomness, r.bindingRandomness));
      expect([toHex(out.commitments.hiding), toHex(out.commitments.binding)]).toEqual([r.hiding, r.binding]);
      return out;
    });
    const commitments = rounds.map((r) => r.commitments);
    const shares = Object.fromEntries(
      signers.map(({ n, secret }, i) => {
        const share = frost.signShare(secret, pub, rounds[i]!.nonces, commitments, message);
        expect(toHex(share)).toBe(v.sigShares[n]);
        expect(frost.verifyShare(pub, commitments, message, id(n), share)).toBe(true);
        return [id(n), share];
      }),
    );
    const signature = frost.aggregate(pub, commitments, message, shares);
    expect(toHex(signature)).toBe(v.sig);
    expect(frost.verify(signature, message, fromHex(v.groupPublicKey))).toBe(true);
  });
});
