import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeDerSignature,
  encodeDerSignature,
  fromHex,
  InvalidPointError,
  P256_ORDER,
  SignatureEncodingError,
  utf8,
} from "../src/index.ts";
import { backends } from "./backends.ts";

const scalar = fc.bigInt({ min: 1n, max: P256_ORDER - 1n });

describe("strict DER ECDSA signature codec", () => {
  it("round-trips every (r, s) in range, with minimal encodings", () => {
    fc.assert(
      fc.property(scalar, scalar, (r, s) => {
        const der = encodeDerSignature({ r, s });
        expect(der.length).toBeLessThanOrEqual(72);
        expect(decodeDerSignature(der)).toEqual({ r, s });
      }),
    );
  });

  it("never throws anything but SignatureEncodingError on garbage", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (garbage) => {
        try {
          decodeDerSignature(garbage);
        } catch (error) {
          expect(error).toBeInstanceOf(SignatureEncodingError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  // r = 1, s = 1 is the smallest valid signature: 30 06 02 01 01 02 01 01.
  const cases: Array<[string, string]> = [
    ["wrong outer tag", "3106020101020101"],
    ["long-form length", "308106020101020101"],
    ["sequence length too long", "3007020101020101"],
    ["trailing byte", "300602010102010100"],
    ["r not an INTEGER", "3006030101020101"],
    ["zero-length integer", "30050200020101"],
    ["negative r", "3006020181020101"],
    ["superfluous leading zero", "300702020001020101"],
    ["r = 0", "3006020100020101"],
    ["s = n", "3026020101022100ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"],
  ];
  it.each(cases)("rejects %s", (_, hex) => {
    expect(() => decodeDerSignature(fromHex(hex))).toThrow(SignatureEncodingError);
  });
});

describe.each(backends)("ECDSA as Go's SignASN1/VerifyASN1 ($name back-end)", (crypto) => {
  const { privateKey, publicKey } = crypto.generateKeyPair();
  const message = utf8("nonce to sign");

  it("accepts the high-S twin of a valid signature (Go never normalises s)", () => {
    const { r, s } = decodeDerSignature(crypto.ecdsaSign(privateKey, message));
    const twin = encodeDerSignature({ r, s: P256_ORDER - s });
    expect(crypto.ecdsaVerify(publicKey, message, twin)).toBe(true);
  });

  it("returns false for a wrong message or key, throws for a malformed signature or key", () => {
    const signature = crypto.ecdsaSign(privateKey, message);
    expect(crypto.ecdsaVerify(publicKey, utf8("other"), signature)).toBe(false);
    expect(crypto.ecdsaVerify(crypto.generateKeyPair().publicKey, message, signature)).toBe(false);
    const padded = new Uint8Array([...signature, 0]);
    expect(() => crypto.ecdsaVerify(publicKey, message, padded)).toThrow(SignatureEncodingError);
    const offCurve = publicKey.slice();
    offCurve[64]! ^= 1;
    expect(() => crypto.ecdsaVerify(offCurve, message, signature)).toThrow(InvalidPointError);
  });
});
