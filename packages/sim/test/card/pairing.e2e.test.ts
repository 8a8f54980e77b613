import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ActiveCardPhone,
  CardRefusedError,
  MemoryPairedCardStore,
  nobleCrypto,
  parseQrPayload,
} from "@pairkit/core";
import { nodeCrypto, readQrFromPng } from "@pairkit/core/node";
import { describe, expect, it } from "vitest";
import {
  CardSimulator,
  JsonFileCardStore,
  MemoryCardStore,
  renderQrPng,
  renderQrTerminal,
} from "../../src/card/index.ts";
import { connect } from "./support.ts";

const cardInfo = { deviceName: "AC-Bob-Key", ownerUser: "bob@example.com", firmwareVersion: "1.0.3" };

describe.each([nodeCrypto, nobleCrypto])("Active Card pairing end to end ($name)", (crypto) => {
  it("pairs from a QR image, binds, reconnects without QR, forgets, and is then refused", async () => {
    const cardStore = new MemoryCardStore();
    const card = await CardSimulator.open({ crypto, store: cardStore, ...cardInfo });
    const phoneStore = new MemoryPairedCardStore();
    const phone = new ActiveCardPhone({ crypto, store: phoneStore });

    // The phone scans the card's display.
    const png = await renderQrPng(card.qrText());
    const qr = parseQrPayload(readQrFromPng(png), Date.now());
    expect(qr.identityPublicKey).toEqual(card.identityPublicKey);
    expect(qr.deviceId).toBe(card.deviceId);

    const first = connect(card);
    const session = await phone.pair(first.phoneLink, qr, "bob@example.com");
    expect(card.pairedPhones).toHaveLength(1);
    expect(card.pairedPhones[0]!.userId).toBe("bob@example.com");
    const stored = await phoneStore.get(card.deviceId);
    expect(stored?.cardIdentityPublicKey).toEqual(card.identityPublicKey);
    expect(card.pairedPhones[0]!.identityPublicKey).toEqual(stored?.phoneIdentityPublicKey);
    await session.close();
    await first.served;
    expect(first.errors).toEqual([]);

    const second = connect(card);
    const resumed = await phone.reconnect(second.phoneLink, card.deviceId);
    expect(resumed.sessionId).not.toEqual(session.sessionId);
    await resumed.forget();
    expect(card.pairedPhones).toHaveLength(0);
    expect(phoneStore.size).toBe(0);
    await resumed.close();
    await second.served;
    expect(second.errors).toEqual([]);

    // The phone has erased the card: it cannot even try.
    await expect(phone.reconnect(connect(card).phoneLink, card.deviceId)).rejects.toMatchObject({
      code: "NOT_PAIRED",
    });
    // A phone that kept (or restored) its old keys is refused by the card.
    await phoneStore.put(stored!);
    const third = connect(card);
    const refused = await phone.reconnect(third.phoneLink, card.deviceId).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CardRefusedError);
    expect(refused).toMatchObject({ reason: "NOT_PAIRED", phase: "challenge" });
    await third.phoneLink.close();
    await third.served;
    expect(third.errors.map((e) => e.code)).toEqual(["NOT_PAIRED"]);
    expect(card.pairedPhones).toHaveLength(0);
    card.destroy();
  });
});

describe("card simulator persistence and QR rendering", () => {
  it("keeps its identity key and paired phones across restarts in a 0600 JSON file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pairkit-card-"));
    try {
      const path = join(dir, "card.json");
      const card = await CardSimulator.open({
        crypto: nodeCrypto,
        store: new JsonFileCardStore(path),
        ...cardInfo,
      });
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const phone = new ActiveCardPhone({ crypto: nodeCrypto, store: new MemoryPairedCardStore() });
      const link = connect(card);
      await (
        await phone.pair(link.phoneLink, parseQrPayload(card.qrText(), Date.now()), "bob@example.com")
      ).close();
      await link.served;
      card.destroy();

      const restarted = await CardSimulator.open({
        crypto: nodeCrypto,
        store: new JsonFileCardStore(path),
        ...cardInfo,
      });
      expect(restarted.identityPublicKey).toEqual(card.identityPublicKey);
      expect(restarted.deviceId).toBe(card.deviceId);
      expect(restarted.pairedPhones).toHaveLength(1);
      const again = connect(restarted);
      await (await phone.reconnect(again.phoneLink, card.deviceId)).close();
      await again.served;
      expect(again.errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("sessions on several links at once lose no pairing", async () => {
    const card = await CardSimulator.open({ crypto: nodeCrypto, store: new MemoryCardStore(), ...cardInfo });
    const qr = parseQrPayload(card.qrText(), Date.now());
    const links = [connect(card), connect(card), connect(card)];
    const sessions = await Promise.all(
      links.map((link) =>
        new ActiveCardPhone({ crypto: nodeCrypto, store: new MemoryPairedCardStore() }).pair(
          link.phoneLink,
          qr,
          "bob@example.com",
        ),
      ),
    );
    expect(card.pairedPhones).toHaveLength(3);
    await Promise.all(sessions.map((s) => s.forget()));
    expect(card.pairedPhones).toHaveLength(0);
  });

  it("renders its QR code for a terminal", async () => {
    const card = await CardSimulator.open({ crypto: nodeCrypto, store: new MemoryCardStore(), ...cardInfo });
    const text = await renderQrTerminal(card.qrText());
    expect(text.split("\n").length).toBeGreaterThan(20);
    expect(text).toMatch(/[▀▄█]/);
  });

  it("a corrupt state file is a typed error, not a new identity", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pairkit-card-"));
    try {
      const path = join(dir, "card.json");
      const { writeFileSync } = await import("node:fs");
      writeFileSync(path, '{"version":1,"deviceId":"x","identityPrivateKey":"00","pairedPhones":[]}');
      await expect(
        CardSimulator.open({ crypto: nodeCrypto, store: new JsonFileCardStore(path), ...cardInfo }),
      ).rejects.toMatchObject({ code: "CARD_STATE_CORRUPT" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
