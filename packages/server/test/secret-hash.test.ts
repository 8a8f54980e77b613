import { nobleCrypto } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { describe, expect, it } from "vitest";
import { hashLowEntropySecret, verifyLowEntropySecret } from "../src/auth/secret-hash.ts";

const PARAMS = { N: 1024, r: 8, p: 1 };

for (const [name, crypto] of [
  ["node", nodeCrypto],
  ["noble", nobleCrypto],
] as const) {
  describe(`low-entropy secret hash on the ${name} back-end`, () => {
    it("accepts the right PIN and refuses a wrong one", async () => {
      const stored = await hashLowEntropySecret(crypto, "482913", PARAMS);
      expect(await verifyLowEntropySecret(crypto, "482913", stored)).toBe(true);
      expect(await verifyLowEntropySecret(crypto, "482914", stored)).toBe(false);
    });

    it("refuses every PIN when the stored hash or salt is empty, truncated or the parameters are out of bounds", async () => {
      const [prefix, N, r, p, salt, hash] = (await hashLowEntropySecret(crypto, "482913", PARAMS)).split("$");
      const truncated = Buffer.from(hash!, "base64").subarray(0, 8).toString("base64");
      const records = [
        [prefix, N, r, p, salt, ""],
        [prefix, N, r, p, salt, truncated],
        [prefix, N, r, p, "", hash],
        [prefix, "0", r, p, salt, hash],
        [prefix, "1000", r, p, salt, hash],
        [prefix, String(2 ** 30), r, p, salt, hash],
        [prefix, "1e3", r, p, salt, hash],
        [prefix, N, "", p, salt, hash],
        [prefix, N, r, "-1", salt, hash],
        ["bcrypt", N, r, p, salt, hash],
        [prefix, N, r, p, salt],
      ].map((parts) => parts.join("$"));
      for (const record of records) {
        expect(await verifyLowEntropySecret(crypto, "000000", record), record).toBe(false);
        expect(await verifyLowEntropySecret(crypto, "482913", record), record).toBe(false);
      }
    });
  });
}
