import { ACTIVE_CARD_PIPE, FramedLink, openCentralFrameChannel, SimRadio } from "@pairkit/ble";
import { ActiveCardPhone, MemoryPairedCardStore, type PairkitError, parseQrPayload } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { describe, expect, it } from "vitest";
import { CardSimulator, MemoryCardStore, serveCardOnPeripheral } from "../../src/card/index.ts";

const crypto = nodeCrypto;

// docs/protocol.md §2.2 header: version, type (0x30 = Active Card message), seq, totalSeq,
// payloadLength, flags. Each of these is rejected by the card's link before any session exists.
const badFirstFrames: [string, number[]][] = [
  ["BAD_VERSION", [0x02, 0x30, 0, 1, 0, 0]],
  ["LENGTH_MISMATCH", [0x01, 0x30, 0, 1, 5, 0, 0xaa, 0xbb]],
  ["EMPTY_CHUNK", [0x01, 0x30, 0, 2, 0, 0]],
];

describe("the card simulator after a bad first frame (docs/protocol.md §4.8)", () => {
  it.each(badFirstFrames)(
    "answers nothing to %s and pairs the next session on the same connection",
    async (code, frame) => {
      const radio = new SimRadio({ connectionIntervalMs: 1 });
      const card = await CardSimulator.open({
        crypto,
        store: new MemoryCardStore(),
        deviceName: "AC-Bob-Key",
        ownerUser: "bob@example.com",
        firmwareVersion: "1.0.3",
      });
      const errors: PairkitError[] = [];
      await serveCardOnPeripheral(radio.createPeripheral({ id: "card" }), card, {
        crypto,
        onError: (e) => errors.push(e),
      });
      const client = await radio.createCentral({ mtu: 185 }).connect("card", { timeoutMs: 5000 });
      const channel = await openCentralFrameChannel(client, ACTIVE_CARD_PIPE);
      const answers: Uint8Array[] = [];
      channel.onFrame((f) => answers.push(f));
      await channel.sendFrame(Uint8Array.from(frame));
      await expect.poll(() => errors.map((e) => e.code)).toEqual([code]);
      expect(answers).toEqual([]);

      // The same connection, now used by an honest phone: the card is still serving it.
      const phone = new ActiveCardPhone({ crypto, store: new MemoryPairedCardStore() });
      const link = new FramedLink(channel, { role: "central", crypto });
      const session = await phone.pair(link, parseQrPayload(card.qrText(), Date.now()), "bob@example.com");
      await session.close();
      expect(card.pairedPhones).toHaveLength(1);
      expect(errors.map((e) => e.code)).toEqual([code]);
    },
  );
});
