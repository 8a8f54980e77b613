import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  type Crypto,
  CryptoError,
  concatBytes,
  encodeDerSignature,
  fromHex,
  InvalidLengthError,
  signatureFromCompact,
  toHex,
} from "../src/index.ts";
import { backends } from "./backends.ts";

/**
 * Google's Wycheproof vectors (vectors/wycheproof/README.md) on both crypto back-ends, one
 * table driving the JSON files. Every test of every file runs; what the `Crypto` API cannot
 * express is named in the table and must be refused with a typed error (or, for encodings the
 * API never takes, never be a `valid` vector), never answered wrongly:
 *
 * - AES-GCM with a 192-bit key or an IV other than 96 bits: `InvalidLengthError` (the API takes
 *   16/32-byte keys and 12-byte nonces). A tag other than 128 bits cannot be expressed either:
 *   the API always takes the last 16 bytes as the tag, so a shorter one fails authentication.
 * - ECDH public keys other than a 65-byte SEC1 uncompressed point: compressed points are
 *   refused with `InvalidLengthError`; SubjectPublicKeyInfo with explicit curve parameters or
 *   in BER, and JWKs of other curves, have no form the API takes at all (it takes points, not
 *   SPKI/JWK, and only P-256), so such vectors must not be `valid`.
 * - HMAC with a truncated tag: the API returns the full tag; the vector's prefix is compared.
 */

interface Vector {
  readonly tcId: number;
  readonly result: "valid" | "invalid" | "acceptable";
  readonly flags: readonly string[];
  readonly [field: string]: unknown;
}

interface Group {
  readonly tests: readonly Vector[];
  readonly [field: string]: unknown;
}

/**
 * What one vector gave: a value; a typed refusal; a size the API refuses by design (checked to
 * be refused with a typed error, whatever the vector's result); or an encoding the API does
 * not take at all.
 */
type Attempt = { value: unknown } | { refused: CryptoError };
type Outcome = Attempt | { unsupported: string } | { inexpressible: string };

interface Suite {
  readonly file: string;
  /** Runs one vector; any error that is not a `CryptoError` fails the test. */
  run(crypto: Crypto, group: Group, test: Vector): Outcome;
  /** The value a `valid` vector must give. */
  expected(group: Group, test: Vector): unknown;
  /**
   * What an `invalid` vector must give: a typed refusal (a key agreement, a derivation or a
   * decryption has no wrong answer to give), `false` or a refusal (a verification), or a value
   * other than the vector's (a MAC compared with a modified tag).
   */
  readonly invalid: "refused" | "false or refused" | "another value";
}

const hex = (value: unknown): Uint8Array => fromHex(value as string);
const base64url = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, "base64url"));

function attempt(fn: () => unknown): Attempt {
  try {
    return { value: fn() };
  } catch (error) {
    if (error instanceof CryptoError) return { refused: error };
    throw error;
  }
}

/** A private scalar of any length Wycheproof writes (leading zero, short) as the 32 bytes the API takes. */
function privateScalar(value: string): Uint8Array {
  const bytes = fromHex(value.length % 2 ? `0${value}` : value);
  let start = 0;
  while (start < bytes.length - 32 && bytes[start] === 0) start++;
  const out = new Uint8Array(32);
  out.set(bytes.subarray(start), 32 - (bytes.length - start));
  return out;
}

/** The DER of a named-curve P-256 SubjectPublicKeyInfo, up to the point (DER leaves no other form). */
const P256_SPKI_PREFIX = {
  uncompressed: fromHex("3059301306072a8648ce3d020106082a8648ce3d030107034200"),
  compressed: fromHex("3039301306072a8648ce3d020106082a8648ce3d030107032200"),
};

function pointOfSpki(spki: Uint8Array): Uint8Array | undefined {
  for (const [form, prefix] of Object.entries(P256_SPKI_PREFIX)) {
    const length = form === "uncompressed" ? 65 : 33;
    if (spki.length === prefix.length + length && toHex(spki.subarray(0, prefix.length)) === toHex(prefix))
      return spki.subarray(prefix.length);
  }
  return undefined;
}

function pointOfJwk(jwk: { crv?: string; x?: string; y?: string }): Uint8Array | undefined {
  if (jwk.crv !== "P-256" || jwk.x === undefined || jwk.y === undefined) return undefined;
  return concatBytes(Uint8Array.of(4), base64url(jwk.x), base64url(jwk.y));
}

function ecdh(crypto: Crypto, test: Vector, publicKey: Uint8Array | undefined, form: string): Outcome {
  if (!publicKey) return { inexpressible: form };
  return attempt(() => toHex(crypto.ecdh(privateScalar(test.private as string), publicKey)));
}

const suites: Suite[] = [
  {
    file: "hkdf_sha256_test.json",
    run: (crypto, _, t) =>
      attempt(() => toHex(crypto.hkdfSha256(hex(t.ikm), hex(t.salt), hex(t.info), t.size as number))),
    invalid: "refused",
    expected: (_, t) => t.okm,
  },
  {
    file: "hmac_sha256_test.json",
    run: (crypto, g, t) =>
      attempt(() => toHex(crypto.hmacSha256(hex(t.key), hex(t.msg))).slice(0, (g.tagSize as number) / 4)),
    invalid: "another value",
    expected: (_, t) => t.tag,
  },
  {
    file: "aes_gcm_test.json",
    run(crypto, g, t) {
      const [key, iv, aad] = [hex(t.key), hex(t.iv), hex(t.aad)];
      const sealed = concatBytes(hex(t.ct), hex(t.tag));
      const opened = attempt(() => toHex(crypto.aesGcmDecrypt(key, iv, sealed, aad)));
      if (g.tagSize !== 128) {
        expect(opened, `tcId ${t.tcId}`).toHaveProperty("refused");
        return { unsupported: "tag other than 128 bits" };
      }
      const sealedHere = attempt(() => toHex(crypto.aesGcmEncrypt(key, iv, hex(t.msg), aad)));
      if ("refused" in sealedHere) {
        // 192-bit keys and IVs other than 96 bits: both directions refuse the length.
        expect(sealedHere.refused, `tcId ${t.tcId}`).toBeInstanceOf(InvalidLengthError);
        expect(opened, `tcId ${t.tcId}`).toEqual({ refused: expect.any(InvalidLengthError) });
        return { unsupported: "192-bit key or IV other than 96 bits" };
      }
      // Sealing is deterministic: the valid ciphertext is what we produce; a modified tag is not.
      expect(sealedHere.value === toHex(sealed), `tcId ${t.tcId}`).toBe(t.result === "valid");
      return opened;
    },
    invalid: "refused",
    expected: (_, t) => t.msg,
  },
  {
    file: "ecdsa_secp256r1_sha256_test.json",
    run: (crypto, g, t) =>
      attempt(() =>
        crypto.ecdsaVerify(
          hex((g.publicKey as { uncompressed: string }).uncompressed),
          hex(t.msg),
          hex(t.sig),
        ),
      ),
    invalid: "false or refused",
    expected: () => true,
  },
  {
    file: "ecdsa_secp256r1_sha256_p1363_test.json",
    run: (crypto, g, t) =>
      attempt(() =>
        crypto.ecdsaVerify(
          hex((g.publicKey as { uncompressed: string }).uncompressed),
          hex(t.msg),
          encodeDerSignature(signatureFromCompact(hex(t.sig))),
        ),
      ),
    invalid: "false or refused",
    expected: () => true,
  },
  {
    file: "ecdh_secp256r1_ecpoint_test.json",
    run: (crypto, _, t) => ecdh(crypto, t, hex(t.public), "SEC1 point"),
    invalid: "refused",
    expected: (_, t) => t.shared,
  },
  {
    file: "ecdh_secp256r1_test.json",
    run: (crypto, _, t) =>
      ecdh(crypto, t, pointOfSpki(hex(t.public)), "SPKI with explicit parameters, another curve, or BER"),
    invalid: "refused",
    expected: (_, t) => t.shared,
  },
  {
    file: "ecdh_secp256r1_webcrypto_test.json",
    run(crypto, _, t) {
      const point = pointOfJwk(t.public as { crv?: string; x?: string; y?: string });
      const d = (t.private as { d: string }).d;
      if (!point) return { inexpressible: "JWK of another curve" };
      return attempt(() => toHex(crypto.ecdh(privateScalar(toHex(base64url(d))), point)));
    },
    invalid: "refused",
    expected: (_, t) => t.shared,
  },
];

function load(file: string): { numberOfTests: number; testGroups: Group[] } {
  return JSON.parse(readFileSync(new URL(`./vectors/wycheproof/${file}`, import.meta.url), "utf8"));
}

describe.each(backends)("Wycheproof ($name back-end)", (crypto) => {
  it.each(suites)("$file", (suite) => {
    const { numberOfTests, testGroups } = load(suite.file);
    const tally = { valid: 0, refusedOrFalse: 0, acceptable: 0, unsupported: 0, inexpressible: 0 };
    for (const group of testGroups) {
      for (const test of group.tests) {
        const what = `tcId ${test.tcId} (${test.result}; ${test.flags.join(", ")})`;
        const outcome = suite.run(crypto, group, test);
        if ("unsupported" in outcome) {
          tally.unsupported++;
        } else if ("inexpressible" in outcome) {
          expect(test.result, `${what}: ${outcome.inexpressible}`).not.toBe("valid");
          tally.inexpressible++;
        } else if (test.result === "valid") {
          expect(outcome, what).toEqual({ value: suite.expected(group, test) });
          tally.valid++;
        } else if (test.result === "invalid") {
          if (suite.invalid === "refused" || !("value" in outcome))
            expect(outcome, what).toHaveProperty("refused");
          else if (suite.invalid === "false or refused") expect(outcome.value, what).toBe(false);
          else expect(outcome.value, what).not.toEqual(suite.expected(group, test));
          tally.refusedOrFalse++;
        } else {
          // Acceptable: the right value or a typed refusal, nothing else.
          if ("value" in outcome) expect(outcome.value, what).toEqual(suite.expected(group, test));
          tally.acceptable++;
        }
      }
    }
    expect(Object.values(tally).reduce((a, b) => a + b)).toBe(numberOfTests);
  });
});

it("every Wycheproof file in vectors/wycheproof is driven by the table", () => {
  const files = readdirSync(new URL("./vectors/wycheproof/", import.meta.url)).filter((f) =>
    f.endsWith(".json"),
  );
  expect(new Set(files)).toEqual(new Set(suites.map((s) => s.file)));
});
