import { describe, expect, it } from "vitest";
import {
  AbortedError,
  DEFAULT_SCRYPT_PARAMS,
  derivePasswordScalars,
  generatePairingPassword,
  InvalidScryptParamsError,
  isTrivialPassword,
  nobleCrypto,
  P256_ORDER,
  PairkitError,
} from "../src/index.ts";
import { nodeCrypto } from "../src/node/index.ts";

describe("password → (w0, w1)", () => {
  it("gives identical scalars on the native and the isomorphic scrypt at the default cost", async () => {
    const salt = nodeCrypto.randomBytes(16);
    const [a, b] = await Promise.all([
      derivePasswordScalars(nodeCrypto, "40718253", salt, DEFAULT_SCRYPT_PARAMS),
      derivePasswordScalars(nobleCrypto, "40718253", salt, DEFAULT_SCRYPT_PARAMS),
    ]);
    expect(a).toEqual(b);
    for (const w of [a.w0, a.w1]) expect(w >= 1n && w < P256_ORDER).toBe(true);
  });

  it("the isomorphic scrypt reports progress and lets the event loop run meanwhile", async () => {
    const progress: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await nobleCrypto.scrypt(new Uint8Array(8), new Uint8Array(16), DEFAULT_SCRYPT_PARAMS, 80, {
      onProgress: (fraction) => progress.push(fraction),
    });
    clearInterval(timer);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toBe(1);
    expect([...progress].sort((x, y) => x - y)).toEqual(progress);
    expect(ticks).toBeGreaterThan(0);
  });

  it.each([nobleCrypto, nodeCrypto])("aborts through its AbortSignal ($name)", async (crypto) => {
    const controller = new AbortController();
    const pending = crypto.scrypt(new Uint8Array(8), new Uint8Array(16), DEFAULT_SCRYPT_PARAMS, 80, {
      signal: controller.signal,
    });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
  });

  it("refuses scrypt parameters a peer could use to exhaust memory, and bad salts", async () => {
    const salt = new Uint8Array(16);
    for (const params of [
      { N: 3, r: 8, p: 1 },
      { N: 1 << 21, r: 8, p: 1 },
      { N: 1024, r: 0, p: 1 },
      { N: 1024, r: 8, p: 64 },
      { N: 1024.5, r: 8, p: 1 },
    ]) {
      await expect(derivePasswordScalars(nobleCrypto, "1", salt, params)).rejects.toBeInstanceOf(
        InvalidScryptParamsError,
      );
    }
    await expect(derivePasswordScalars(nobleCrypto, "1", new Uint8Array(4))).rejects.toBeInstanceOf(
      InvalidScryptParamsError,
    );
  });
});

describe("pairing password generator", () => {
  it("makes 8 digits, never a trivial pattern", () => {
    for (let i = 0; i < 2000; i++) {
      const password = generatePairingPassword(nodeCrypto.randomBytes);
      expect(password).toMatch(/^[0-9]{8}$/);
      expect(isTrivialPassword(password)).toBe(false);
    }
  });

  it("recognises the trivial patterns", () => {
    for (const p of ["00000000", "77777777", "01234567", "23456789", "78901234", "98765432", "10987654"]) {
      expect(isTrivialPassword(p)).toBe(true);
    }
    for (const p of ["01234568", "13579135", "00000001", "12121212"])
      expect(isTrivialPassword(p)).toBe(false);
  });

  it("rejects uint32 draws at or above the largest multiple of 10^8 (no modulo bias)", () => {
    const draws = [0xffffffff, 4_200_000_000, 4_199_999_998];
    const source = () => {
      const value = draws.shift();
      if (value === undefined) throw new Error("drew too often");
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, value);
      return out;
    };
    // 4_199_999_998 mod 10^8 = 99_999_998 — accepted only after the two rejected draws.
    expect(generatePairingPassword(source)).toBe("99999998");
  });

  it("gives up with a typed error on a broken random source", () => {
    expect(() => generatePairingPassword(() => new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrow(
      PairkitError,
    );
  });

  it("is uniform per digit position (chi-square, 9 degrees of freedom, p = 0.0001)", () => {
    const samples = 50_000;
    const counts = Array.from({ length: 8 }, () => new Array<number>(10).fill(0));
    for (let i = 0; i < samples; i++) {
      const password = generatePairingPassword(nodeCrypto.randomBytes);
      for (let position = 0; position < 8; position++) counts[position]![Number(password[position])]!++;
    }
    const expected = samples / 10;
    for (const row of counts) {
      const chi2 = row.reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0);
      // Critical value of χ²(9) at p = 0.0001 is 33.72; the excluded trivial patterns (≈ 40 of 10^8) are far below it.
      expect(chi2).toBeLessThan(33.72);
    }
  });
});
