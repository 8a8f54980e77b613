import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ConfirmationError,
  type Crypto,
  derivePasswordScalars,
  InvalidLengthError,
  InvalidPointError,
  prepareProver,
  prepareVerifier,
  type Spake2PlusProfile,
  Spake2PlusProver,
  Spake2PlusStateError,
  Spake2PlusVerifier,
  toHex,
  utf8,
  verifierFromScalars,
} from "../src/index.ts";
import { backends } from "./backends.ts";

// Small scrypt cost for property runs; the vector tests cover the real parameters.
const FAST_SCRYPT = { N: 16, r: 1, p: 1 };
const profiles: Spake2PlusProfile[] = ["rfc9383", "ccc"];

function paramsFor(profile: Spake2PlusProfile) {
  return { profile, context: utf8("pairkit test"), idProver: utf8("phone-1"), idVerifier: utf8("VIN123") };
}

async function parties(
  crypto: Crypto,
  profile: Spake2PlusProfile,
  proverPassword: string,
  vehiclePassword: string,
  salt: Uint8Array,
) {
  const params = paramsFor(profile);
  const proverScalars = await derivePasswordScalars(crypto, proverPassword, salt, FAST_SCRYPT);
  const vehicleScalars = await derivePasswordScalars(crypto, vehiclePassword, salt, FAST_SCRYPT);
  return {
    prover: new Spake2PlusProver(crypto, params, prepareProver(crypto, proverScalars)),
    verifier: new Spake2PlusVerifier(
      crypto,
      params,
      prepareVerifier(crypto, verifierFromScalars(crypto, vehicleScalars)),
    ),
  };
}

const password = fc.string({ minLength: 1, maxLength: 16 });
const salt = fc.uint8Array({ minLength: 16, maxLength: 16 });

describe.each(backends)("SPAKE2+ properties ($name back-end)", (crypto) => {
  it.each(profiles)("%s: same password and salt → both sides hold the same key", async (profile) => {
    await fc.assert(
      fc.asyncProperty(password, salt, async (pw, s) => {
        const { prover, verifier } = await parties(crypto, profile, pw, pw, s);
        const { shareV, confirmV } = verifier.receiveShareP(prover.shareP);
        const { confirmP } = prover.receiveShareV(shareV);
        const k1 = prover.verifyConfirmV(confirmV);
        expect(toHex(verifier.verifyConfirmP(confirmP))).toBe(toHex(k1));
      }),
      { numRuns: 15 },
    );
  });

  it.each(profiles)(
    "%s: a wrong password fails at confirmV, and the verifier rejects confirmP",
    async (profile) => {
      await fc.assert(
        fc.asyncProperty(password, password, salt, async (a, b, s) => {
          fc.pre(a !== b);
          const { prover, verifier } = await parties(crypto, profile, a, b, s);
          const { shareV, confirmV } = verifier.receiveShareP(prover.shareP);
          const { confirmP } = prover.receiveShareV(shareV);
          expect(() => prover.verifyConfirmV(confirmV)).toThrow(ConfirmationError);
          expect(() => verifier.verifyConfirmP(confirmP)).toThrow(ConfirmationError);
        }),
        { numRuns: 10 },
      );
    },
  );

  it.each(profiles)(
    "%s: a substituted valid share (attacker in the middle) fails confirmation on both sides",
    async (profile) => {
      await fc.assert(
        fc.asyncProperty(fc.boolean(), async (replaceX) => {
          const { prover, verifier } = await parties(
            crypto,
            profile,
            "12345678",
            "12345678",
            new Uint8Array(16),
          );
          const attacker = crypto.generateKeyPair().publicKey;
          const { shareV, confirmV } = verifier.receiveShareP(replaceX ? attacker : prover.shareP);
          const { confirmP } = prover.receiveShareV(replaceX ? shareV : attacker);
          expect(() => prover.verifyConfirmV(confirmV)).toThrow(ConfirmationError);
          expect(() => verifier.verifyConfirmP(confirmP)).toThrow(ConfirmationError);
        }),
        { numRuns: 6 },
      );
    },
  );

  it.each(profiles)(
    "%s: a bit-flipped share is rejected (invalid point, or failed confirmation if still on the curve)",
    async (profile) => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 64 }),
          fc.integer({ min: 0, max: 7 }),
          async (byte, bit) => {
            const { prover, verifier } = await parties(
              crypto,
              profile,
              "12345678",
              "12345678",
              new Uint8Array(16),
            );
            const tampered = prover.shareP.slice();
            tampered[byte]! ^= 1 << bit;
            let shares: { shareV: Uint8Array; confirmV: Uint8Array };
            try {
              shares = verifier.receiveShareP(tampered);
            } catch (error) {
              expect(error).toBeInstanceOf(InvalidPointError);
              return;
            }
            // Still on the curve (vanishingly rare for a bit flip): then confirmation must fail.
            const { confirmP } = prover.receiveShareV(shares.shareV);
            expect(() => prover.verifyConfirmV(shares.confirmV)).toThrow(ConfirmationError);
            expect(() => verifier.verifyConfirmP(confirmP)).toThrow(ConfirmationError);
          },
        ),
        { numRuns: 30 },
      );
    },
  );
});

describe.each(backends)("SPAKE2+ input errors are distinct and typed ($name back-end)", (crypto) => {
  it.each(profiles)("%s", async (profile) => {
    const { prover, verifier } = await parties(crypto, profile, "12345678", "12345678", new Uint8Array(16));
    expect(() => verifier.verifyConfirmP(new Uint8Array(32))).toThrow(Spake2PlusStateError);
    expect(() => verifier.receiveShareP(prover.shareP.subarray(0, 64))).toThrow(InvalidLengthError);
    const compressedPrefix = prover.shareP.slice();
    compressedPrefix[0] = 0x02;
    expect(() => verifier.receiveShareP(compressedPrefix)).toThrow(InvalidPointError);
    const offCurve = prover.shareP.slice();
    offCurve[64]! ^= 0x80;
    expect(() => verifier.receiveShareP(offCurve)).toThrow(InvalidPointError);

    const { shareV, confirmV } = verifier.receiveShareP(prover.shareP);
    expect(() => verifier.receiveShareP(prover.shareP)).toThrow(Spake2PlusStateError);
    prover.receiveShareV(shareV);
    expect(() => prover.verifyConfirmV(confirmV.subarray(1))).toThrow(InvalidLengthError);
    const wrong = confirmV.slice();
    wrong[0]! ^= 1;
    expect(() => prover.verifyConfirmV(wrong)).toThrow(ConfirmationError);
    expect(prover.verifyConfirmV(confirmV).length).toBe(profile === "ccc" ? 16 : 32);

    prover.destroy();
    expect(() => prover.verifyConfirmV(confirmV)).toThrow(Spake2PlusStateError);
  });
});
