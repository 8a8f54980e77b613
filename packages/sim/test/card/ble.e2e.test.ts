import {
  ACTIVE_CARD_PIPE,
  connectToCard,
  DeviceKind,
  FramedLink,
  openCentralFrameChannel,
  type Peripheral,
  pairkitManufacturerData,
  SimRadio,
} from "@pairkit/ble";
import {
  ActiveCardPhone,
  CardRefusedError,
  cardAdvertisementHint,
  MemoryPairedCardStore,
  parseQrPayload,
} from "@pairkit/core";
import { nodeCrypto, readQrFromPng } from "@pairkit/core/node";
import { describe, expect, it, vi } from "vitest";
import { CardSimulator, MemoryCardStore, renderQrPng, serveCardOnPeripheral } from "../../src/card/index.ts";

const crypto = nodeCrypto;

describe("Active Card over the simulated BLE radio", () => {
  it.each([23, 185])("pairs from a QR image, reconnects, forgets, is refused (ATT MTU %i)", async (mtu) => {
    const radio = new SimRadio({ connectionIntervalMs: 1 });
    const card = await CardSimulator.open({
      crypto,
      store: new MemoryCardStore(),
      deviceName: "AC-Bob-Key",
      ownerUser: "bob@example.com",
      firmwareVersion: "1.0.3",
    });
    const errors: unknown[] = [];
    await serveCardOnPeripheral(radio.createPeripheral({ id: "card" }), card, {
      crypto,
      onError: (e) => errors.push(e),
    });
    const central = radio.createCentral({ mtu });
    const connect = async () => {
      const client = await central.connect("card", { timeoutMs: 5000 });
      return new FramedLink(await openCentralFrameChannel(client, ACTIVE_CARD_PIPE), {
        role: "central",
        crypto,
      });
    };
    const phoneStore = new MemoryPairedCardStore();
    const phone = new ActiveCardPhone({ crypto, store: phoneStore });
    const qr = parseQrPayload(readQrFromPng(await renderQrPng(card.qrText())), Date.now());

    await (await phone.pair(await connect(), qr, "bob@example.com")).close();
    expect(card.pairedPhones).toHaveLength(1);
    const kept = await phoneStore.get(qr.deviceId);

    const session = await phone.reconnect(await connect(), qr.deviceId);
    await session.forget();
    await session.close();
    expect([card.pairedPhones.length, phoneStore.size]).toEqual([0, 0]);

    await phoneStore.put(kept!);
    const link = await connect();
    const refused = await phone.reconnect(link, qr.deviceId).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CardRefusedError);
    expect(refused).toMatchObject({ reason: "NOT_PAIRED" });
    await link.close();
    expect(errors).toMatchObject([{ code: "NOT_PAIRED" }]);
  });
});

describe("finding the card of a QR code (docs/protocol.md §2.1)", () => {
  const openCard = (deviceName: string) =>
    CardSimulator.open({
      crypto,
      store: new MemoryCardStore(),
      deviceName,
      ownerUser: "",
      firmwareVersion: "1.0.3",
    });
  const qrOf = (card: CardSimulator) => parseQrPayload(card.qrText(), Date.now());

  it("pairs with AC-Bob when AC-Bob-Key advertises first, and with a card of empty name", async () => {
    const radio = new SimRadio({ connectionIntervalMs: 1 });
    const cards = [await openCard("AC-Bob-Key"), await openCard("AC-Bob"), await openCard("")];
    for (const [i, card] of cards.entries()) {
      await serveCardOnPeripheral(radio.createPeripheral({ id: `card-${i}` }), card, { crypto });
    }
    const central = radio.createCentral({ mtu: 185 });
    const store = new MemoryPairedCardStore();
    const phone = new ActiveCardPhone({ crypto, store });
    for (const card of cards.slice(1)) {
      const qr = qrOf(card);
      const target = { crypto, identityPublicKey: qr.identityPublicKey, timeoutMs: 2000 };
      await (await connectToCard(central, target, (link) => phone.pair(link, qr, "bob"))).close();
      await (await connectToCard(central, target, (link) => phone.reconnect(link, qr.deviceId))).close();
    }
    expect(cards.map((c) => c.pairedPhones.length)).toEqual([0, 1, 1]);
  });

  it("a card with a colliding hint is refused as WRONG_CARD and the next candidate pairs", async () => {
    const radio = new SimRadio({ connectionIntervalMs: 1 });
    const impostor = await openCard("AC-Bob");
    const card = await openCard("AC-Bob");
    const impostorErrors: unknown[] = [];
    // The impostor advertises the real card's hint (a 4-byte hint can collide) and is heard first.
    const air = radio.createPeripheral({ id: "impostor" });
    const colliding: Peripheral = {
      id: air.id,
      setServices: (services) => air.setServices(services),
      startAdvertising: (data) =>
        air.startAdvertising({
          ...data,
          manufacturerData: pairkitManufacturerData(
            DeviceKind.ACTIVE_CARD,
            cardAdvertisementHint(crypto, card.identityPublicKey),
          ),
        }),
      stopAdvertising: () => air.stopAdvertising(),
      onConnection: (listener) => air.onConnection(listener),
      close: () => air.close(),
    };
    await serveCardOnPeripheral(colliding, impostor, { crypto, onError: (e) => impostorErrors.push(e) });
    await serveCardOnPeripheral(radio.createPeripheral({ id: "card" }), card, { crypto });
    const phone = new ActiveCardPhone({ crypto, store: new MemoryPairedCardStore() });
    const qr = qrOf(card);
    let attempts = 0;
    const central = radio.createCentral({ mtu: 185 });
    const session = await connectToCard(
      central,
      { crypto, identityPublicKey: qr.identityPublicKey, timeoutMs: 2000 },
      (link) => {
        attempts++;
        return phone.pair(link, qr, "bob");
      },
    );
    await session.close();
    expect(attempts).toBe(2);
    expect([impostor.pairedPhones.length, card.pairedPhones.length]).toEqual([0, 1]);
    await vi.waitFor(() => expect(impostorErrors).toMatchObject([{ code: "CARD_REFUSED" }]));
  });

  it("no card with the hint on the air is a scan TIMEOUT", async () => {
    const radio = new SimRadio({ connectionIntervalMs: 1 });
    await serveCardOnPeripheral(radio.createPeripheral({ id: "other" }), await openCard("AC-Bob"), {
      crypto,
    });
    const wanted = await openCard("AC-Bob");
    const error = await connectToCard(
      radio.createCentral({ mtu: 185 }),
      { crypto, identityPublicKey: wanted.identityPublicKey, timeoutMs: 200 },
      async () => expect.unreachable("no candidate"),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TIMEOUT" });
  });
});
