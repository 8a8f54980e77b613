import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bigintToBytes,
  CryptoError,
  concatBytes,
  DecryptionError,
  decodeDerSignature,
  encodeDerSignature,
  encodeScalar,
  fromHex,
  InvalidLengthError,
  InvalidScryptParamsError,
  nobleCrypto,
  P256_ORDER,
  SignatureEncodingError,
  signatureFromCompact,
  signatureToCompact,
  toHex,
  utf8,
} from "../src/index.ts";
import { nodeCrypto } from "../src/node/index.ts";
import { backends } from "./backends.ts";

describe.each(backends)("known-answer vectors ($name back-end)", (crypto) => {
  it("SHA-256 (FIPS 180-2 'abc')", () => {
    expect(toHex(crypto.sha256(utf8("abc")))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("HMAC-SHA256 (RFC 4231 test case 2)", () => {
    expect(toHex(crypto.hmacSha256(utf8("Jefe"), utf8("what do ya want for nothing?")))).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });

  it("HKDF-SHA256 (RFC 5869 test cases 1 and 3)", () => {
    const ikm = fromHex("0b".repeat(22));
    expect(
      toHex(
        crypto.hkdfSha256(ikm, fromHex("000102030405060708090a0b0c"), fromHex("f0f1f2f3f4f5f6f7f8f9"), 42),
      ),
    ).toBe("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    expect(toHex(crypto.hkdfSha256(ikm, new Uint8Array(0), new Uint8Array(0), 42))).toBe(
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    );
  });

  it("AES-256-GCM (McGrew–Viega test case 16, with AAD)", () => {
    const key = fromHex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
    const nonce = fromHex("cafebabefacedbaddecaf888");
    const plaintext = fromHex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    );
    const aad = fromHex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    const sealed = crypto.aesGcmEncrypt(key, nonce, plaintext, aad);
    expect(toHex(sealed)).toBe(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" +
        "76fc6ece0f4e1768cddf8853bb2d551b",
    );
    expect(toHex(crypto.aesGcmDecrypt(key, nonce, sealed, aad))).toBe(toHex(plaintext));
  });

  it("AES-CMAC (RFC 4493 examples 1 and 2)", () => {
    const key = fromHex("2b7e151628aed2a6abf7158809cf4f3c");
    expect(toHex(crypto.aesCmac(key, new Uint8Array(0)))).toBe("bb1d6929e95937287fa37d129b756746");
    expect(toHex(crypto.aesCmac(key, fromHex("6bc1bee22e409f96e93d7e117393172a")))).toBe(
      "070a16b46b4d4144f79bdd9dd04a287c",
    );
  });

  it("scrypt (RFC 7914 §12 vectors 1 and 2)", async () => {
    expect(toHex(await crypto.scrypt(new Uint8Array(0), new Uint8Array(0), { N: 16, r: 1, p: 1 }, 64))).toBe(
      "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
    );
    expect(toHex(await crypto.scrypt(utf8("password"), utf8("NaCl"), { N: 1024, r: 8, p: 16 }, 64))).toBe(
      "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
    );
  });
});

describe.each(backends)("AES-GCM failures ($name back-end)", (crypto) => {
  const key = new Uint8Array(32).fill(7);
  const nonce = new Uint8Array(12).fill(1);
  const sealed = crypto.aesGcmEncrypt(key, nonce, utf8("unlock"), utf8("header"));

  it("rejects a flipped tag, ciphertext, AAD or nonce with DecryptionError", () => {
    for (let i = 0; i < sealed.length; i++) {
      const tampered = sealed.slice();
      tampered[i]! ^= 0x01;
      expect(() => crypto.aesGcmDecrypt(key, nonce, tampered, utf8("header"))).toThrow(DecryptionError);
    }
    expect(() => crypto.aesGcmDecrypt(key, nonce, sealed, utf8("headeR"))).toThrow(DecryptionError);
    expect(() => crypto.aesGcmDecrypt(key, new Uint8Array(12), sealed, utf8("header"))).toThrow(
      DecryptionError,
    );
    expect(() => crypto.aesGcmDecrypt(key, nonce, sealed.subarray(0, 15))).toThrow(DecryptionError);
  });

  it("rejects wrong key and nonce lengths with InvalidLengthError", () => {
    expect(() => crypto.aesGcmEncrypt(new Uint8Array(31), nonce, sealed)).toThrow(InvalidLengthError);
    expect(() => crypto.aesGcmEncrypt(key, new Uint8Array(16), sealed)).toThrow(InvalidLengthError);
  });
});

describe.each(backends)("argument checks, alike on both back-ends ($name back-end)", (crypto) => {
  const empty = new Uint8Array(0);

  it("HKDF refuses an output length outside 1..8160 with InvalidLengthError (Wycheproof HKDF tcId 25, 48, 74)", () => {
    for (const length of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 8161]) {
      expect(() => crypto.hkdfSha256(utf8("ikm"), empty, empty, length), String(length)).toThrow(
        InvalidLengthError,
      );
    }
    expect(crypto.hkdfSha256(utf8("ikm"), empty, empty, 8160)).toHaveLength(8160);
  });

  it("HKDF gives the same bytes as the other back-end, or the same InvalidLengthError, for any length (fast-check)", () => {
    const other = crypto === nobleCrypto ? nodeCrypto : nobleCrypto;
    const outcome = (c: typeof crypto, length: number) => {
      try {
        return toHex(c.hkdfSha256(utf8("ikm"), utf8("salt"), utf8("info"), length));
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidLengthError);
        return "refused";
      }
    };
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -2, max: 8200 }), fc.double()), (length) => {
        expect(outcome(crypto, length)).toBe(outcome(other, length));
      }),
      { numRuns: 300 },
    );
  });

  it("scrypt rejects parameters and output lengths outside the bounds with InvalidScryptParamsError", async () => {
    const password = utf8("password");
    const salt = utf8("NaCl-NaCl");
    const bad: [Partial<{ N: number; r: number; p: number }>, number][] = [
      [{ r: 0 }, 32],
      [{ N: 3 }, 32],
      [{ p: 0 }, 32],
      [{ r: 1.5 }, 32],
      [{ N: 2 ** 20, r: 9 }, 32],
      [{}, 0],
      [{}, 1025],
      [{}, Number.NaN],
    ];
    for (const [change, dkLen] of bad) {
      await expect(
        crypto.scrypt(password, salt, { N: 16, r: 1, p: 1, ...change }, dkLen),
        JSON.stringify([change, dkLen]),
      ).rejects.toThrow(InvalidScryptParamsError);
    }
  });
});

describe("P1363 signatures (r ‖ s)", () => {
  const message = utf8("pairkit");
  const key = nobleCrypto.generateKeyPair();
  const compact = signatureToCompact(decodeDerSignature(nobleCrypto.ecdsaSign(key.privateKey, message)));

  it("must be exactly 64 bytes: a 65-byte r ‖ s ‖ extra is refused, not verified", () => {
    for (const length of [0, 63, 65, 128]) {
      const wrong = new Uint8Array(length);
      wrong.set(compact.subarray(0, Math.min(64, length)));
      expect(() => signatureFromCompact(wrong), String(length)).toThrow(InvalidLengthError);
    }
    for (const crypto of backends) {
      expect(
        crypto.ecdsaVerify(key.publicKey, message, encodeDerSignature(signatureFromCompact(compact))),
      ).toBe(true);
    }
  });

  it("gives (r, s) or a CryptoError for any bytes, and what it gives round-trips (fast-check)", () => {
    const nearSize = fc.oneof(
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      fc.uint8Array({ maxLength: 80 }),
    );
    fc.assert(
      fc.property(nearSize, (bytes) => {
        let signature: ReturnType<typeof signatureFromCompact>;
        try {
          signature = signatureFromCompact(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(CryptoError);
          return;
        }
        expect(signatureToCompact(signature)).toEqual(bytes);
        expect(decodeDerSignature(encodeDerSignature(signature))).toEqual(signature);
      }),
      { numRuns: 2000 },
    );
  });

  it("has r and s in [1, n-1], as in DER", () => {
    const n = encodeScalar(P256_ORDER - 1n);
    for (const [r, s] of [
      [new Uint8Array(32), compact.subarray(32)],
      [compact.subarray(0, 32), new Uint8Array(32)],
      [bigintToBytes(P256_ORDER, 32), compact.subarray(32)],
      [compact.subarray(0, 32), bigintToBytes(P256_ORDER, 32)],
    ] as const) {
      expect(() => signatureFromCompact(concatBytes(r, s))).toThrow(SignatureEncodingError);
    }
    expect(signatureFromCompact(concatBytes(n, n))).toEqual({ r: P256_ORDER - 1n, s: P256_ORDER - 1n });
  });
});

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

describe("the two back-ends agree on every primitive", () => {
  it("hash, HMAC, HKDF, CMAC", () => {
    fc.assert(
      fc.property(
        bytes(0, 200),
        bytes(0, 80),
        bytes(0, 40),
        fc.integer({ min: 1, max: 300 }),
        (data, key, info, length) => {
          expect(toHex(nodeCrypto.sha256(data))).toBe(toHex(nobleCrypto.sha256(data)));
          expect(toHex(nodeCrypto.hmacSha256(key, data))).toBe(toHex(nobleCrypto.hmacSha256(key, data)));
          expect(toHex(nodeCrypto.hkdfSha256(data, key, info, length))).toBe(
            toHex(nobleCrypto.hkdfSha256(data, key, info, length)),
          );
          const aesKey = key.length >= 16 ? key.subarray(0, 16) : new Uint8Array(16).fill(key.length);
          expect(toHex(nodeCrypto.aesCmac(aesKey, data))).toBe(toHex(nobleCrypto.aesCmac(aesKey, data)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("AES-GCM: each decrypts what the other sealed", () => {
    fc.assert(
      fc.property(bytes(32, 32), bytes(12, 12), bytes(0, 300), bytes(0, 40), (key, nonce, plaintext, aad) => {
        const a = nodeCrypto.aesGcmEncrypt(key, nonce, plaintext, aad);
        expect(toHex(nobleCrypto.aesGcmEncrypt(key, nonce, plaintext, aad))).toBe(toHex(a));
        expect(toHex(nobleCrypto.aesGcmDecrypt(key, nonce, a, aad))).toBe(toHex(plaintext));
        expect(toHex(nodeCrypto.aesGcmDecrypt(key, nonce, a, aad))).toBe(toHex(plaintext));
      }),
      { numRuns: 100 },
    );
  });

  it("ECDH, public keys, and ECDSA signatures verify across back-ends (including OpenSSL's high-S ones)", () => {
    fc.assert(
      fc.property(bytes(0, 100), fc.boolean(), (message, nodeFirst) => {
        const [a, b] = nodeFirst ? [nodeCrypto, nobleCrypto] : [nobleCrypto, nodeCrypto];
        const alice = a.generateKeyPair();
        const bob = b.generateKeyPair();
        expect(toHex(b.publicKeyOf(alice.privateKey))).toBe(toHex(alice.publicKey));
        expect(toHex(a.ecdh(alice.privateKey, bob.publicKey))).toBe(
          toHex(b.ecdh(bob.privateKey, alice.publicKey)),
        );
        // With and without the signer's public key given: both are Go-compatible signatures.
        for (const signature of [
          a.ecdsaSign(alice.privateKey, message),
          a.ecdsaSign(alice.privateKey, message, alice.publicKey),
        ]) {
          expect(b.ecdsaVerify(alice.publicKey, message, signature)).toBe(true);
          expect(a.ecdsaVerify(alice.publicKey, message, signature)).toBe(true);
          expect(b.ecdsaVerify(bob.publicKey, message, signature)).toBe(false);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("scrypt gives identical output", async () => {
    await fc.assert(
      fc.asyncProperty(
        bytes(0, 32),
        bytes(8, 32),
        fc.integer({ min: 1, max: 64 }),
        async (password, salt, dkLen) => {
          const params = { N: 64, r: 2, p: 1 };
          expect(toHex(await nodeCrypto.scrypt(password, salt, params, dkLen))).toBe(
            toHex(await nobleCrypto.scrypt(password, salt, params, dkLen)),
          );
        },
      ),
      { numRuns: 40 },
    );
  });
});

// ecdsaSign's publicKey only spares deriving the signer's public half; it is not checked
// against the private key (that would cost the multiplication it saves), so the tests pin down
// what a wrong one can and cannot do (crypto.ts documents the contract).
describe.each(backends)("ECDSA signing with a given public key ($name back-end)", (crypto) => {
  const message = utf8("pairkit/active-card/v1/challenge");

  it("a wrong public key yields the signer's own signature, never one that verifies under the wrong key", () => {
    for (let i = 0; i < 8; i++) {
      const signer = crypto.generateKeyPair();
      const other = crypto.generateKeyPair();
      const signature = crypto.ecdsaSign(signer.privateKey, message, other.publicKey);
      for (const verifier of backends) {
        expect(verifier.ecdsaVerify(other.publicKey, message, signature)).toBe(false);
        expect(verifier.ecdsaVerify(signer.publicKey, message, signature)).toBe(true);
      }
    }
  });

  it("a public key that is not a P-256 point is refused", () => {
    const signer = crypto.generateKeyPair();
    const offCurve = signer.publicKey.slice();
    offCurve[64]! ^= 1;
    const compressed = signer.publicKey.slice();
    compressed[0] = 0x02;
    for (const bad of [offCurve, compressed]) {
      expect(() => crypto.ecdsaSign(signer.privateKey, message, bad)).toThrow(
        expect.objectContaining({ code: "INVALID_POINT" }),
      );
    }
    expect(() => crypto.ecdsaSign(signer.privateKey, message, signer.publicKey.subarray(0, 64))).toThrow(
      expect.objectContaining({ code: "INVALID_LENGTH" }),
    );
  });
});
