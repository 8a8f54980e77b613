import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type PairedCard, utf8 } from "../../src/index.ts";
import { FilePairedCardStore, FileSecureElementVault, nodeCrypto } from "../../src/node/index.ts";

const crypto = nodeCrypto;
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function setup() {
  dir = mkdtempSync(join(tmpdir(), "pairkit-card-store-"));
  const keyFile = join(dir, "key");
  writeFileSync(keyFile, crypto.randomBytes(32));
  const path = join(dir, "cards.json");
  return {
    path,
    secret: { keyFile },
    open: () => new FilePairedCardStore({ path, crypto, secret: { keyFile } }),
  };
}

function card(deviceId: string): PairedCard {
  const phone = crypto.generateKeyPair();
  return {
    deviceId,
    deviceName: "AC-Bob",
    firmwareVersion: "1.0.0",
    cardIdentityPublicKey: crypto.generateKeyPair().publicKey,
    phoneIdentityPrivateKey: phone.privateKey,
    phoneIdentityPublicKey: phone.publicKey,
    userId: "bob@example.com",
    pairedAt: 1_715_148_123_000,
  };
}

describe("FilePairedCardStore", () => {
  it("keeps cards across instances, encrypted at rest, and deletes them", async () => {
    const { path, open } = setup();
    const a = card("card-a");
    await open().put(a);
    await open().put(card("card-b"));
    expect(await open().get("card-a")).toEqual(a);
    expect(readFileSync(path, "utf8")).not.toContain("bob@example.com");
    await open().delete("card-a");
    expect(await open().get("card-a")).toBeUndefined();
    expect(await open().get("card-b")).toMatchObject({ deviceId: "card-b" });
  });

  it("a wrong key is SE_UNLOCK_FAILED; a readable file that is not a card list is CARD_STORE_CORRUPT", async () => {
    const { path, secret, open } = setup();
    await open().put(card("card-a"));
    const otherKey = join(dir, "other");
    writeFileSync(otherKey, crypto.randomBytes(32));
    const wrong = new FilePairedCardStore({ path, crypto, secret: { keyFile: otherKey } });
    await expect(wrong.get("card-a")).rejects.toMatchObject({ code: "SE_UNLOCK_FAILED" });
    await new FileSecureElementVault(path, crypto, secret).save(
      utf8('{"version":1,"cards":[{"deviceId":7}]}'),
    );
    await expect(open().get("card-a")).rejects.toMatchObject({ code: "CARD_STORE_CORRUPT" });
    await expect(open().put(card("card-b"))).rejects.toMatchObject({ code: "CARD_STORE_CORRUPT" });
  });
});
