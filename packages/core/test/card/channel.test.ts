import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ActiveCardEvent,
  CARD_LINK_MESSAGE_TYPE,
  CARD_MAX_COUNTER,
  CARD_MAX_WRAPPER_BYTES,
  CardChannel,
  CardProtocolError,
  CardRole,
  cardIv,
  createMemoryLinkPair,
  decodeWrapper,
  encodeWrapper,
  type Link,
  type LinkMessage,
  NonceResponseSchema,
  TransportMessageWrapperSchema,
  wrapperAad,
} from "../../src/index.ts";
import { backends } from "../backends.ts";

const sessionId = Uint8Array.from({ length: 16 }, (_, i) => i);
const start = 1_715_148_123_000n;

function channels(crypto: (typeof backends)[number], phoneLink: Link, cardLink: Link, key?: Uint8Array) {
  const common = { crypto, sessionId, sessionStartTime: start, timeoutMs: 1000 };
  const phone = new CardChannel({ ...common, link: phoneLink, role: CardRole.phone });
  const card = new CardChannel({ ...common, link: cardLink, role: CardRole.card });
  if (key) {
    phone.secure(key);
    card.secure(key);
  }
  return { phone, card };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CardProtocolError);
  return (error as CardProtocolError).code;
}

/** A link whose sent messages the test holds and releases in any order. */
function capturing(): { link: Link; sent: LinkMessage[] } {
  const sent: LinkMessage[] = [];
  const link = {
    send: async (m: LinkMessage) => void sent.push(m),
  } as unknown as Link;
  return { link, sent };
}

describe("TransportMessageWrapper codec", () => {
  it("round-trips plaintext and sealed wrappers", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 11 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.boolean(),
        (type, contents, time, sealed) => {
          const fields = {
            messageType: type,
            messageSize: contents.length,
            sessionId,
            sessionStartTime: time,
            contents,
            ...(sealed ? { sealed: { iv: cardIv(1, 5n), tag: new Uint8Array(16).fill(7) } } : {}),
          };
          expect(decodeWrapper(encodeWrapper(fields), "challenge")).toEqual(fields);
        },
      ),
    );
  });

  it("rejects oversize, unknown-type, truncated and inconsistent wrappers with typed errors", () => {
    const good = encodeWrapper({
      messageType: ActiveCardEvent.NONCE_RESPONSE,
      messageSize: 34,
      sessionId,
      sessionStartTime: start,
      contents: new Uint8Array(34),
    });
    const wrapper = (init: object) =>
      toBinary(
        TransportMessageWrapperSchema,
        create(TransportMessageWrapperSchema, { messageType: 2, sessionId, ...init }),
      );
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(CARD_MAX_WRAPPER_BYTES + 1), "OVERSIZE_MESSAGE"],
      [good.subarray(0, good.length - 3), "MALFORMED_MESSAGE"],
      [Uint8Array.of(0xff, 0xff, 0xff), "MALFORMED_MESSAGE"],
      [wrapper({ messageType: 99 }), "UNKNOWN_MESSAGE_TYPE"],
      [wrapper({ messageType: 0 }), "UNKNOWN_MESSAGE_TYPE"],
      [wrapper({ sessionId: new Uint8Array(15) }), "MALFORMED_MESSAGE"],
      [wrapper({ contents: new Uint8Array(3), messageSize: 4 }), "MALFORMED_MESSAGE"],
      [wrapper({ iv: new Uint8Array(12) }), "MALFORMED_MESSAGE"],
      [
        wrapper({
          isEncrypted: true,
          iv: new Uint8Array(12),
          ivLen: 12,
          tag: new Uint8Array(15),
          tagLen: 16,
        }),
        "MALFORMED_MESSAGE",
      ],
      [
        wrapper({ isEncrypted: true, iv: new Uint8Array(8), ivLen: 8, tag: new Uint8Array(16), tagLen: 16 }),
        "MALFORMED_MESSAGE",
      ],
    ];
    for (const [bytes, expected] of cases) {
      expect(() => decodeWrapper(bytes, "challenge")).toThrow(
        expect.objectContaining({ code: expected, phase: "challenge" }),
      );
    }
  });

  it("never throws anything but a CardProtocolError on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1100 }), (bytes) => {
        try {
          decodeWrapper(bytes, "session");
        } catch (error) {
          expect(error).toBeInstanceOf(CardProtocolError);
        }
      }),
    );
  });

  it("never builds an iv past counter 2^64 − 1 (DataView would wrap it to a used nonce)", () => {
    expect(Buffer.from(cardIv(CardRole.card, CARD_MAX_COUNTER)).toString("hex")).toBe(
      "02000000ffffffffffffffff",
    );
    for (const counter of [CARD_MAX_COUNTER + 1n, 2n ** 65n, -1n]) {
      expect(() => cardIv(CardRole.phone, counter), String(counter)).toThrow(
        expect.objectContaining({ code: "COUNTER_EXHAUSTED" }),
      );
    }
  });

  it("AAD is message_type ‖ message_size ‖ session_id ‖ session_start_time ‖ iv (44 bytes)", () => {
    const iv = cardIv(CardRole.card, 0x0102n);
    const aad = wrapperAad({ messageType: 9, messageSize: 2, sessionId, sessionStartTime: 0x0a0bn }, iv);
    expect(Buffer.from(aad).toString("hex")).toBe(
      "00000009" +
        "00000002" +
        Buffer.from(sessionId).toString("hex") +
        "0000000000000a0b" +
        "020000000000000000000102",
    );
  });
});

describe.each(backends)("CardChannel ($name)", (crypto) => {
  const key = new Uint8Array(32).fill(9);

  it("carries plaintext then encrypted messages both ways", async () => {
    const [a, b] = createMemoryLinkPair();
    const { phone, card } = channels(crypto, a, b);
    await phone.send(ActiveCardEvent.NONCE_RESPONSE, NonceResponseSchema, {
      nonce: new Uint8Array(32).fill(1),
    });
    expect(await card.receive("challenge")).toMatchObject({ type: 2, encrypted: false });
    phone.secure(key);
    card.secure(key);
    await card.send(ActiveCardEvent.FORGET_ACK);
    await phone.send(ActiveCardEvent.FORGET_DEVICE);
    expect(await phone.receive("forget")).toEqual({ type: 11, body: new Uint8Array(0), encrypted: true });
    expect(await card.receive("forget")).toEqual({ type: 10, body: new Uint8Array(0), encrypted: true });
  });

  it("rejects replayed, reordered and reflected messages before decrypting", async () => {
    const { link, sent } = capturing();
    const [, cardLink] = createMemoryLinkPair();
    const { phone, card } = channels(crypto, link, cardLink, key);
    for (let i = 0; i < 3; i++) await phone.send(ActiveCardEvent.FORGET_DEVICE);
    const open = (m: LinkMessage) => card.open(decodeWrapper(m.payload, "session"), "session");
    expect(open(sent[0]!).type).toBe(ActiveCardEvent.FORGET_DEVICE);
    expect(() => open(sent[0]!)).toThrow(expect.objectContaining({ code: "REPLAYED_MESSAGE" }));
    expect(() => open(sent[2]!)).toThrow(expect.objectContaining({ code: "REORDERED_MESSAGE" }));
    expect(open(sent[1]!).type).toBe(ActiveCardEvent.FORGET_DEVICE);

    // The card's own message sent back to it carries the card's direction byte.
    const { link: cardOut, sent: cardSent } = capturing();
    const reflected = channels(crypto, link, cardOut, key).card;
    await reflected.send(ActiveCardEvent.FORGET_ACK);
    expect(() => open(cardSent[0]!)).toThrow(expect.objectContaining({ code: "MALFORMED_MESSAGE" }));
  });

  it("rejects a bad tag, a changed header, plaintext in a keyed session, and another session", async () => {
    const { link, sent } = capturing();
    const fresh = () => channels(crypto, link, createMemoryLinkPair()[1], key).card;
    const { phone } = channels(crypto, link, createMemoryLinkPair()[1], key);
    await phone.send(ActiveCardEvent.FORGET_DEVICE);
    const wrapper = decodeWrapper(sent[0]!.payload, "session");
    const badTag = wrapper.sealed!.tag.slice();
    badTag[0]! ^= 1;
    expect(() =>
      fresh().open({ ...wrapper, sealed: { ...wrapper.sealed!, tag: badTag } }, "session"),
    ).toThrow(expect.objectContaining({ code: "DECRYPTION_FAILED" }));
    expect(() => fresh().open({ ...wrapper, messageType: ActiveCardEvent.NONCE_REQUEST }, "session")).toThrow(
      expect.objectContaining({ code: "DECRYPTION_FAILED" }),
    );
    const { sealed: _, ...plain } = wrapper;
    expect(() => fresh().open(plain, "session")).toThrow(expect.objectContaining({ code: "NOT_ENCRYPTED" }));
    expect(() => fresh().open({ ...wrapper, sessionStartTime: start + 1n }, "session")).toThrow(
      expect.objectContaining({ code: "SESSION_MISMATCH" }),
    );
  });

  it("takes the session key once, and never after destroy", async () => {
    const [a, b] = createMemoryLinkPair();
    const { phone, card } = channels(crypto, a, b, key);
    expect(() => phone.secure(new Uint8Array(32).fill(1))).toThrow(
      expect.objectContaining({ code: "ALREADY_SECURED" }),
    );
    // The first key stays in force: the card still opens what the phone seals.
    await phone.send(ActiveCardEvent.FORGET_DEVICE);
    expect(await card.receive("forget")).toMatchObject({
      type: ActiveCardEvent.FORGET_DEVICE,
      encrypted: true,
    });
    const unkeyed = channels(crypto, a, b).phone;
    unkeyed.destroy();
    expect(() => unkeyed.secure(key)).toThrow(expect.objectContaining({ code: "SESSION_CLOSED" }));
  });

  it("checks the link message type and refuses to send after destroy", async () => {
    const [a, b] = createMemoryLinkPair();
    const { phone, card } = channels(crypto, a, b, key);
    await a.send({ type: CARD_LINK_MESSAGE_TYPE + 1, payload: new Uint8Array(0) });
    expect(await codeOf(card.receive("session"))).toBe("LINK_MESSAGE_TYPE");
    phone.destroy();
    expect(await codeOf(phone.send(ActiveCardEvent.FORGET_DEVICE))).toBe("SESSION_CLOSED");
  });
});
