import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  bytesToBigint,
  computeKeySchedule,
  deriveOwnerPairingKeys,
  derivePasswordScalars,
  fromHex,
  prepareProver,
  prepareVerifier,
  Spake2PlusProver,
  Spake2PlusVerifier,
  toHex,
  utf8,
  verifierFromScalars,
} from "../src/index.ts";
import { backends } from "./backends.ts";

const vectorsDir = new URL("./vectors/", import.meta.url);
const read = (name: string) =>
  JSON.parse(readFileSync(new URL(name, vectorsDir), "utf8")) as Record<string, unknown>;
/** A vector file as a lookup that throws on a missing field instead of yielding undefined. */
function vectors(name: string): (field: string) => string {
  const data = read(name);
  return (field) => {
    const value = data[field];
    if (typeof value !== "string") throw new Error(`vector field ${field} missing from ${name}`);
    return value;
  };
}
const rfc = vectors("spake2plus-rfc9383-vectors.json");
const ccc = vectors("spake2plus-ccc-style-vectors.json");
const cccScrypt = read("spake2plus-ccc-style-vectors.json").scrypt as {
  pwd_utf8: string;
  salt_utf8: string;
  N: number;
  r: number;
  p: number;
};
const big = (hex: string) => BigInt(`0x${hex}`);

describe.each(backends)("SPAKE2+ rfc9383 vectors ($name back-end)", (crypto) => {
  const params = {
    profile: "rfc9383" as const,
    context: fromHex(rfc("Context")),
    idProver: fromHex(rfc("idProver")),
    idVerifier: fromHex(rfc("idVerifier")),
  };
  const scalars = { w0: big(rfc("w0")), w1: big(rfc("w1")) };

  it("derives L = w1·G", () => {
    expect(toHex(verifierFromScalars(crypto, scalars).L)).toBe(rfc("L"));
  });

  it("reproduces every intermediate value of RFC 9383 Appendix C", () => {
    const prover = new Spake2PlusProver(crypto, params, prepareProver(crypto, scalars), big(rfc("x")));
    const verifier = new Spake2PlusVerifier(
      crypto,
      params,
      prepareVerifier(crypto, { w0: scalars.w0, L: fromHex(rfc("L")) }),
      big(rfc("y")),
    );
    expect(toHex(prover.shareP)).toBe(rfc("shareP"));
    const { shareV, confirmV } = verifier.receiveShareP(prover.shareP);
    expect(toHex(shareV)).toBe(rfc("shareV"));
    const { confirmP } = prover.receiveShareV(shareV);

    for (const schedule of [prover.keySchedule, verifier.keySchedule]) {
      expect(toHex(schedule.transcript)).toBe(rfc("TT"));
      expect(toHex(schedule.mainKey)).toBe(rfc("K_main"));
      expect(toHex(schedule.confirmKeyP)).toBe(rfc("K_confirmP"));
      expect(toHex(schedule.confirmKeyV)).toBe(rfc("K_confirmV"));
      expect(toHex(schedule.sharedKey)).toBe(rfc("K_shared"));
    }
    expect(toHex(confirmP)).toBe(rfc("confirmP_HMAC_K_confirmP_shareV"));
    expect(toHex(confirmV)).toBe(rfc("confirmV_HMAC_K_confirmV_shareP"));
    expect(toHex(prover.verifyConfirmV(confirmV))).toBe(rfc("K_shared"));
    expect(toHex(verifier.verifyConfirmP(confirmP))).toBe(rfc("K_shared"));
  });

  it("computes Z and V as the vectors give them (transcript check)", () => {
    const schedule = computeKeySchedule(crypto, params, {
      shareP: fromHex(rfc("shareP")),
      shareV: fromHex(rfc("shareV")),
      Z: fromHex(rfc("Z")),
      V: fromHex(rfc("V")),
      w0: scalars.w0,
    });
    expect(toHex(schedule.transcript)).toBe(rfc("TT"));
  });
});

describe.each(backends)("SPAKE2+ ccc vectors ($name back-end)", (crypto) => {
  const params = { profile: "ccc" as const };

  it("derives w0, w1 and L from the password with scrypt", async () => {
    const { pwd_utf8, salt_utf8, N, r, p } = cccScrypt;
    const scalars = await derivePasswordScalars(crypto, pwd_utf8, utf8(salt_utf8), { N, r, p });
    expect(scalars.w0.toString(16).padStart(64, "0")).toBe(ccc("w0"));
    expect(scalars.w1.toString(16).padStart(64, "0")).toBe(ccc("w1"));
    expect(toHex(verifierFromScalars(crypto, scalars).L)).toBe(ccc("L"));
  });

  it("reproduces X, Y, Z, V, K, CK/SK, K1/K2, M1/M2 and the system keys", () => {
    const scalars = { w0: big(ccc("w0")), w1: big(ccc("w1")) };
    const prover = new Spake2PlusProver(crypto, params, prepareProver(crypto, scalars), big(ccc("x")));
    const verifier = new Spake2PlusVerifier(
      crypto,
      params,
      prepareVerifier(crypto, { w0: scalars.w0, L: fromHex(ccc("L")) }),
      big(ccc("y")),
    );
    expect(toHex(prover.shareP)).toBe(ccc("X"));
    const { shareV, confirmV } = verifier.receiveShareP(prover.shareP);
    expect(toHex(shareV)).toBe(ccc("Y"));
    const { confirmP } = prover.receiveShareV(shareV);
    const expectedTranscriptTail = `4100000000000000${ccc("Z")}4100000000000000${ccc("V")}2000000000000000${ccc("w0")}`;
    for (const schedule of [prover.keySchedule, verifier.keySchedule]) {
      expect(toHex(schedule.transcript).endsWith(expectedTranscriptTail)).toBe(true);
      expect(toHex(schedule.mainKey)).toBe(ccc("K"));
      expect(toHex(schedule.mainKey.subarray(0, 16))).toBe(ccc("CK=K[0:16]"));
      expect(toHex(schedule.sharedKey)).toBe(ccc("SK=K[16:32]"));
      expect(toHex(schedule.confirmKeyP)).toBe(ccc("K1"));
      expect(toHex(schedule.confirmKeyV)).toBe(ccc("K2"));
    }
    expect(toHex(confirmP)).toBe(ccc("M1=CMAC-AES128(K1,X)"));
    expect(toHex(confirmV)).toBe(ccc("M2=CMAC-AES128(K2,Y)"));
    const sk = verifier.verifyConfirmP(confirmP);
    expect(toHex(prover.verifyConfirmV(confirmV))).toBe(toHex(sk));
    const keys = deriveOwnerPairingKeys(crypto, "ccc", sk);
    expect(toHex(keys.kenc)).toBe(ccc("Kenc"));
    expect(toHex(keys.kmac)).toBe(ccc("Kmac"));
    expect(toHex(keys.krmac)).toBe(ccc("Krmac"));
    expect(toHex(keys.longTermSharedSecret ?? new Uint8Array(0))).toBe(ccc("LONG_TERM_SHARED_SECRET"));
  });

  it("hashes the transcript exactly as K_formula says", () => {
    const transcript = computeKeySchedule(crypto, params, {
      shareP: fromHex(ccc("X")),
      shareV: fromHex(ccc("Y")),
      Z: fromHex(ccc("Z")),
      V: fromHex(ccc("V")),
      w0: bytesToBigint(fromHex(ccc("w0"))),
    }).transcript;
    expect(toHex(transcript)).toBe(
      `4100000000000000${ccc("X")}4100000000000000${ccc("Y")}4100000000000000${ccc("Z")}4100000000000000${ccc("V")}2000000000000000${ccc("w0")}`,
    );
  });
});
