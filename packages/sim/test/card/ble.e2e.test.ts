import { ACTIVE_CARD_PIPE, FramedLink, openCentralFrameChannel, SimRadio } from "@pairkit/ble";
import { ActiveCardPhone, CardRefusedError, MemoryPairedCardStore, parseQrPayload } from "@pairkit/core";
import { nodeCrypto, readQrFromPng } from "@pairkit/core/node";
import { describe, expect, it } from "vitest";
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
