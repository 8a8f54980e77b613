import { FramedLink } from "@pairkit/ble";
import { ActiveCardPhone, CardRefusedError, MemoryPairedCardStore, parseQrPayload } from "@pairkit/core";
import { nodeCrypto, readQrFromPng } from "@pairkit/core/node";
import { describe, expect, it } from "vitest";
// @pairkit/ble's barrel does not export the GATT layer and the simulated radio yet.
import {
  ACTIVE_CARD_PIPE,
  openCentralFrameChannel,
  openPeripheralFrameChannel,
} from "../../../ble/src/gatt/frame-channels.ts";
import { ACTIVE_CARD_MESSAGE_CHARACTERISTIC, ACTIVE_CARD_SERVICE } from "../../../ble/src/gatt/uuids.ts";
import { SimRadio } from "../../../ble/src/sim/sim-radio.ts";
import { CardSimulator, MemoryCardStore, renderQrPng } from "../../src/card/index.ts";

const crypto = nodeCrypto;

/** The card as a BLE peripheral on the simulated radio: every connection gets its own framed Link. */
async function cardOnRadio(radio: SimRadio, card: CardSimulator) {
  const peripheral = radio.createPeripheral({ id: "card" });
  await peripheral.setServices([
    {
      uuid: ACTIVE_CARD_SERVICE,
      characteristics: [
        { uuid: ACTIVE_CARD_MESSAGE_CHARACTERISTIC, properties: ["write", "notify"] as const },
      ],
    },
  ]);
  const served: Promise<void>[] = [];
  peripheral.onConnection((connection) => {
    served.push(
      openPeripheralFrameChannel(connection, ACTIVE_CARD_PIPE, { timeoutMs: 5000 }).then((channel) =>
        card.serve(new FramedLink(channel, { role: "peripheral", crypto })),
      ),
    );
  });
  await peripheral.startAdvertising({ serviceUuids: [ACTIVE_CARD_SERVICE], localName: "AC-Bob-Key" });
  return served;
}

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
    const served = await cardOnRadio(radio, card);
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
    await Promise.all(served);
  });
});
