import { readFileSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import {
  ActiveCardEvent,
  ActiveCardPhone,
  CardChannel,
  CardProtocolError,
  CardRefusedError,
  CardRole,
  type LinkMessage,
  MemoryPairedCardStore,
  NonceResponseSchema,
  TransportMessageWrapperSchema,
} from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { describe, expect, it } from "vitest";
import { CardSimulator, MemoryCardStore } from "../../src/card/index.ts";
import { connect, editWrapper, scriptedHandshake } from "./support.ts";

/**
 * docs/protocol.md §4.8's failure table, read from the doc itself: for every row the message of
 * that step is broken on the way, and the failing side must send what the row says, sealed as it
 * says, and end the session, while its peer takes that as a refusal.
 */
interface Row {
  readonly step: string;
  readonly failing: "phone" | "card";
  readonly sends: string;
  readonly sealed: boolean;
}

function failureTable(): Row[] {
  const spec = readFileSync(new URL("../../../../docs/protocol.md", import.meta.url), "utf8");
  const section = spec.slice(spec.indexOf("### 4.8"), spec.indexOf("### 4.9"));
  const header = section.indexOf("| step | message whose check fails");
  const lines = section.slice(header).split("\n");
  const rows = lines.slice(2, lines.indexOf("", 2)).map((line) => {
    const [step, , failing, sends, sealed] = line
      .split("|")
      .slice(1, -1)
      .map((cell) => cell.trim());
    return { step: step!, failing: failing as Row["failing"], sends: sends!, sealed: sealed === "yes" };
  });
  return rows;
}

const crypto = nodeCrypto;
const owner = "bob@example.com";
// The steps each side sends, in order: pairing (§4.5) and reconnect + forget (§4.6, §4.7).
const SENT = {
  pair: { phone: ["1", "3", "4", "5", "7", "9", "12", "14"], card: ["2", "6", "8", "10", "13", "15"] },
  forget: { phone: ["1", "3", "4", "5", "7", "9", "12", "F1"], card: ["2", "6", "8", "10", "13", "F2"] },
} as const;

const openCard = () =>
  CardSimulator.open({
    crypto,
    store: new MemoryCardStore(),
    deviceName: "AC-Bob",
    ownerUser: owner,
    firmwareVersion: "1.0.0",
  });
const wrapperOf = (m: LinkMessage) => fromBinary(TransportMessageWrapperSchema, m.payload);

/** Makes the message fail its receiver's checks: a bad tag if sealed, else contents that are not protobuf. */
function breakMessage(message: LinkMessage): LinkMessage {
  return editWrapper(message, (w) => {
    if (w.isEncrypted) {
      w.tag = w.tag.slice();
      w.tag[0]! ^= 1;
    } else {
      w.contents = Uint8Array.of(0xff);
      w.messageSize = 1;
    }
  });
}

const rows = failureTable();

describe("docs/protocol.md §4.8: one failure table, both roles", () => {
  it("the table has a row for every step of §4.5 and §4.7", () => {
    expect(rows.map((r) => r.step)).toEqual([
      ...["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "13", "14", "15"],
      ...["F1", "F2", "S"],
    ]);
  });

  it.each(rows.filter((r) => r.step !== "S"))(
    "step $step fails on the $failing: it sends $sends (sealed: $sealed)",
    async (row) => {
      const card = await openCard();
      const store = new MemoryPairedCardStore();
      const phone = new ActiveCardPhone({ crypto, store, timeoutMs: 2000 });
      const flow = row.step.startsWith("F") ? "forget" : "pair";
      if (flow === "forget") {
        const first = connect(card);
        await (await phone.pair(first.phoneLink, card.qrPayload(), owner)).close();
        await first.served;
      }
      const sender = row.failing === "phone" ? "card" : "phone";
      const index = (SENT[flow][sender] as readonly string[]).indexOf(row.step);
      expect(index).toBeGreaterThanOrEqual(0);
      const sent: Record<"phone" | "card", LinkMessage[]> = { phone: [], card: [] };
      const tamper = (side: "phone" | "card") => (m: LinkMessage, i: number) => {
        const out = side === sender && i === index ? breakMessage(m) : m;
        sent[side].push(out);
        return [out];
      };
      const link = connect(card, { phone: tamper("phone"), card: tamper("card") });
      const run =
        flow === "pair"
          ? phone.pair(link.phoneLink, card.qrPayload(), owner)
          : phone.reconnect(link.phoneLink, card.deviceId).then((session) => session.forget());
      const error = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      await link.phoneLink.close();
      await link.served;

      const failingError = row.failing === "phone" ? error : link.errors[0];
      expect(failingError).toBeInstanceOf(CardProtocolError);
      expect(failingError).not.toBeInstanceOf(CardRefusedError);
      const afterBreak = sent[row.failing].slice(
        SENT[flow][row.failing].filter((s) => order(s) < order(row.step)).length,
      );
      if (row.sends === "nothing") {
        expect(afterBreak).toEqual([]);
        expect(link.errors).toEqual([]);
        return;
      }
      expect(afterBreak).toHaveLength(1);
      const answer = wrapperOf(afterBreak[0]!);
      expect([ActiveCardEvent[answer.messageType], answer.isEncrypted]).toEqual([row.sends, row.sealed]);
      // The peer reads it as a refusal and answers nothing.
      const peerError = row.failing === "phone" ? link.errors[0] : error;
      expect(peerError).toBeInstanceOf(CardRefusedError);
      // Whatever failed, neither side keeps a pairing it made in this run (§4.8 step 15 included).
      expect(card.pairedPhones).toHaveLength(flow === "forget" ? 1 : 0);
      expect(store.size).toBe(flow === "forget" ? 1 : 0);
      // What the phone had sent on behind the broken message reaches an idle card: no answers.
      expect(link.errors.slice(1).map((e) => (e as CardProtocolError).phase)).not.toContain("challenge");
    },
  );

  it("step S: a message no step asks for in the established session ends it without an answer", async () => {
    expect(rows.find((r) => r.step === "S")).toMatchObject({ failing: "card", sends: "nothing" });
    const card = await openCard();
    const sent: LinkMessage[] = [];
    const link = connect(card, {
      card: (m) => {
        sent.push(m);
        return [m];
      },
    });
    const channel = await scriptedHandshake(crypto, link.phoneLink, crypto.generateKeyPair());
    await channel.send(ActiveCardEvent.NONCE_REQUEST);
    await link.phoneLink.close();
    await link.served;
    expect(sent).toHaveLength(SENT.pair.card.indexOf("13") + 1);
    expect(link.errors.map((e) => [e.code, (e as CardProtocolError).phase])).toEqual([
      ["UNEXPECTED_MESSAGE", "session"],
    ]);
  });
});

describe("docs/protocol.md §4.5: a session holds its connection until it ends", () => {
  it("a second session's first message on the same connection ends the first, unanswered, and starts nothing", async () => {
    const card = await openCard();
    const sent: LinkMessage[] = [];
    const link = connect(card, {
      card: (m) => {
        sent.push(m);
        return [m];
      },
    });
    await scriptedHandshake(crypto, link.phoneLink, crypto.generateKeyPair());
    const second = new CardChannel({
      link: link.phoneLink,
      crypto,
      role: CardRole.phone,
      sessionId: crypto.randomBytes(16),
      sessionStartTime: 2n,
      timeoutMs: 1000,
    });
    await second.send(ActiveCardEvent.NONCE_RESPONSE, NonceResponseSchema, { nonce: crypto.randomBytes(32) });
    await link.phoneLink.close();
    await link.served;
    expect(sent).toHaveLength(SENT.pair.card.indexOf("13") + 1);
    expect(link.errors.map((e) => [e.code, (e as CardProtocolError).phase])).toEqual([
      ["SESSION_MISMATCH", "session"],
    ]);
  });
});

/** Protocol order of a step name (F-steps after 15). */
function order(step: string): number {
  return step.startsWith("F") ? 100 + Number(step.slice(1)) : Number(step);
}
