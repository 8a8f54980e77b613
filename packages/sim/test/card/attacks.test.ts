import { fromBinary } from "@bufbuild/protobuf";
import {
  ActiveCardEvent,
  ActiveCardPhone,
  CARD_LINK_MESSAGE_TYPE,
  CardChannel,
  CardProtocolError,
  CardRefusedError,
  CardRole,
  decodeWrapper,
  ECDHPublicKeySchema,
  encodeWrapper,
  expectMessage,
  type LinkMessage,
  MemoryPairedCardStore,
  parseQrPayload,
  SignatureVerificationResultSchema,
  SignedNonceSchema,
  TimeoutError,
} from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CardSimulator, MemoryCardStore } from "../../src/card/index.ts";
import {
  connect,
  editContents,
  editWrapper,
  ManualClock,
  messageTypeOf,
  scriptedHandshake,
} from "./support.ts";

const crypto = nodeCrypto;
const cardInfo = { deviceName: "AC-Bob-Key", ownerUser: "bob@example.com", firmwareVersion: "1.0.3" };
// Short reply deadline for the cases where the card rightly stays silent.
const phoneOptions = { crypto, timeoutMs: 300 };

async function pairedCard() {
  const store = new MemoryCardStore();
  const card = await CardSimulator.open({ crypto, store, ...cardInfo });
  const phoneStore = new MemoryPairedCardStore();
  const phone = new ActiveCardPhone({ ...phoneOptions, store: phoneStore });
  const link = connect(card);
  await (
    await phone.pair(link.phoneLink, parseQrPayload(card.qrText(), Date.now()), "bob@example.com")
  ).close();
  await link.served;
  return { card, store, phone, phoneStore, saves: store.saves };
}

/** A new phone can still pair (and then forget) after whatever happened before. */
async function expectStillServes(card: CardSimulator) {
  const before = card.pairedPhones.length;
  const phone = new ActiveCardPhone({ crypto, store: new MemoryPairedCardStore() });
  const link = connect(card);
  const session = await phone.pair(
    link.phoneLink,
    parseQrPayload(card.qrText(), Date.now()),
    "bob@example.com",
  );
  expect(card.pairedPhones).toHaveLength(before + 1);
  await session.forget();
  await session.close();
  await link.served;
  expect(link.errors).toEqual([]);
  expect(card.pairedPhones).toHaveLength(before);
}

async function failure(promise: Promise<unknown>): Promise<CardProtocolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CardProtocolError);
  return error as CardProtocolError;
}

const flipLast = (bytes: Uint8Array) => {
  const out = bytes.slice();
  out[out.length - 1]! ^= 1;
  return out;
};

/** Tamper function: edits the `nth` message of `type` a side sends. */
function onType(type: ActiveCardEvent, edit: (m: LinkMessage) => LinkMessage, nth = 0) {
  let seen = 0;
  return (m: LinkMessage) => [messageTypeOf(m) === type && seen++ === nth ? edit(m) : m];
}

describe("Active Card attacks: every one a typed error, the card keeps serving, nothing stored", () => {
  it("wrong card: the QR key is not the card's key", async () => {
    const { card, store, saves } = await pairedCard();
    const other = await CardSimulator.open({ crypto, store: new MemoryCardStore(), ...cardInfo });
    const phoneStore = new MemoryPairedCardStore();
    const phone = new ActiveCardPhone({ ...phoneOptions, store: phoneStore });
    const link = connect(card);
    const error = await failure(phone.pair(link.phoneLink, other.qrPayload(), "bob@example.com"));
    expect(error).toMatchObject({ code: "WRONG_CARD", phase: "challenge" });
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => [e.code, (e as CardRefusedError).reason])).toEqual([
      ["CARD_REFUSED", "BAD_SIGNATURE"],
    ]);
    expect([store.saves, phoneStore.size]).toEqual([saves, 0]);
    await expectStillServes(card);
  });

  it.each([
    // Step 2 cannot tell a forged signature from another card: WRONG_CARD, try the next (§2.1).
    ["challenge", ActiveCardEvent.SIGNED_NONCE, SignedNonceSchema, "WRONG_CARD"],
    ["ecdh", ActiveCardEvent.SEND_ECDH_PUBLIC_KEY, ECDHPublicKeySchema, "BAD_SIGNATURE"],
  ] as const)("bad card signature in the %s step", async (phase, type, schema, code) => {
    const { card, store, saves, phone, phoneStore } = await pairedCard();
    const tamper = onType(type, (m) =>
      editContents(m, schema, (inner) => (inner.signature = flipLast(inner.signature))),
    );
    const link = connect(card, { card: tamper });
    const error = await failure(phone.reconnect(link.phoneLink, card.deviceId));
    expect(error).toMatchObject({ code, phase });
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => e.code)).toEqual(["CARD_REFUSED"]);
    expect([store.saves, phoneStore.size]).toEqual([saves, 1]);
    await expectStillServes(card);
  });

  it.each([
    ["challenge", ActiveCardEvent.SIGNED_NONCE, SignedNonceSchema, flipLast],
    ["ecdh", ActiveCardEvent.SEND_ECDH_PUBLIC_KEY, ECDHPublicKeySchema, flipLast],
    ["challenge", ActiveCardEvent.SIGNED_NONCE, SignedNonceSchema, () => Uint8Array.of(0x30, 0x00)],
    ["ecdh", ActiveCardEvent.SEND_ECDH_PUBLIC_KEY, ECDHPublicKeySchema, () => new Uint8Array(200)],
  ] as const)("bad phone signature in the %s step", async (phase, type, schema, corrupt) => {
    const { card, store, saves } = await pairedCard();
    const phoneStore = new MemoryPairedCardStore();
    const phone = new ActiveCardPhone({ ...phoneOptions, store: phoneStore });
    const tamper = onType(type, (m) =>
      editContents(m, schema, (inner) => (inner.signature = corrupt(inner.signature))),
    );
    const link = connect(card, { phone: tamper });
    const error = await failure(phone.pair(link.phoneLink, card.qrPayload(), "bob@example.com"));
    expect(error).toBeInstanceOf(CardRefusedError);
    expect(error).toMatchObject({ phase, reason: "BAD_SIGNATURE" });
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => [e.code, (e as CardProtocolError).phase])).toEqual([
      ["BAD_SIGNATURE", phase],
    ]);
    expect([store.saves, phoneStore.size, card.pairedPhones.length]).toEqual([saves, 0, 1]);
    await expectStillServes(card);
  });

  it("replayed messages: an old encrypted message in place of FORGET_DEVICE, an old signed nonce in a new session", async () => {
    const { card, store, saves, phone, phoneStore } = await pairedCard();
    let firstEncrypted: LinkMessage | undefined;
    const link = connect(card, {
      phone: (m) => {
        const type = messageTypeOf(m);
        if (type === ActiveCardEvent.ECDH_EXCHANGE_ACK) firstEncrypted = m;
        return [type === ActiveCardEvent.FORGET_DEVICE ? firstEncrypted! : m];
      },
    });
    const session = await phone.reconnect(link.phoneLink, card.deviceId);
    // The card ends the session without an answer (docs §4.4): the phone times out.
    await expect(session.forget()).rejects.toBeInstanceOf(TimeoutError);
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => e.code)).toEqual(["REPLAYED_MESSAGE"]);
    expect([store.saves, phoneStore.size, card.pairedPhones.length]).toEqual([saves, 1, 1]);

    let captured: Uint8Array | undefined;
    const first = connect(card, {
      phone: onType(ActiveCardEvent.SIGNED_NONCE, (m) => {
        captured = decodeWrapper(m.payload, "challenge").contents;
        return m;
      }),
    });
    await (await phone.reconnect(first.phoneLink, card.deviceId)).close();
    await first.served;
    const second = connect(card, {
      phone: onType(ActiveCardEvent.SIGNED_NONCE, (m) =>
        editWrapper(m, (w) => {
          w.contents = captured!;
          w.messageSize = captured!.length;
        }),
      ),
    });
    expect(await failure(phone.reconnect(second.phoneLink, card.deviceId))).toMatchObject({
      reason: "BAD_SIGNATURE",
    });
    await second.phoneLink.close();
    await second.served;
    expect(second.errors.map((e) => e.code)).toEqual(["BAD_SIGNATURE"]);
    expect(store.saves).toBe(saves);
    await expectStillServes(card);
  });

  it("reordered encrypted messages", async () => {
    const { card, store, saves } = await pairedCard();
    let held: LinkMessage | undefined;
    const link = connect(card, {
      phone: (m) => {
        if (messageTypeOf(m) !== ActiveCardEvent.FORGET_DEVICE) return [m];
        if (!held) {
          held = m;
          return [];
        }
        return [m, held];
      },
    });
    const channel = await scriptedHandshake(crypto, link.phoneLink, crypto.generateKeyPair());
    await channel.send(ActiveCardEvent.FORGET_DEVICE);
    await channel.send(ActiveCardEvent.FORGET_DEVICE);
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => e.code)).toEqual(["REORDERED_MESSAGE"]);
    expect([store.saves, card.pairedPhones.length]).toEqual([saves, 1]);
    await expectStillServes(card);
  });

  it("unknown message type, oversize payload, truncated and garbage protobuf, wrong link type", async () => {
    const { card, store, saves } = await pairedCard();
    const link = connect(card);
    const valid = encodeWrapper({
      messageType: ActiveCardEvent.NONCE_RESPONSE,
      messageSize: 3,
      sessionId: new Uint8Array(16),
      sessionStartTime: 1n,
      contents: Uint8Array.of(0x0a, 0x01, 0x00),
    });
    const unknown = editWrapper(
      { type: CARD_LINK_MESSAGE_TYPE, payload: valid },
      (w) => (w.messageType = 42),
    );
    const inputs: LinkMessage[] = [
      unknown,
      { type: CARD_LINK_MESSAGE_TYPE, payload: new Uint8Array(4096).fill(0x0a) },
      { type: CARD_LINK_MESSAGE_TYPE, payload: valid.subarray(0, valid.length - 2) },
      { type: CARD_LINK_MESSAGE_TYPE, payload: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) },
      { type: 0x31, payload: valid },
      // A well-formed wrapper whose inner NonceResponse carries a 1-byte nonce.
      { type: CARD_LINK_MESSAGE_TYPE, payload: valid },
    ];
    for (const input of inputs) await link.phoneLink.send(input);
    // The last one had a usable session id: the card answers it with SIGNATURE_VERIFICATION_RESULT false.
    const reply = await link.phoneLink.receive({ timeoutMs: 1000 });
    const answered = decodeWrapper(reply.payload, "challenge");
    expect(answered.messageType).toBe(ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT);
    expect(fromBinary(SignatureVerificationResultSchema, answered.contents)).toMatchObject({
      valid: false,
      reason: "MALFORMED_MESSAGE",
    });
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => e.code)).toEqual([
      "UNKNOWN_MESSAGE_TYPE",
      "OVERSIZE_MESSAGE",
      "MALFORMED_MESSAGE",
      "MALFORMED_MESSAGE",
      "LINK_MESSAGE_TYPE",
      "MALFORMED_MESSAGE",
    ]);
    expect(link.errors.every((e) => e instanceof CardProtocolError)).toBe(true);
    expect(store.saves).toBe(saves);
    await expectStillServes(card);
  });

  it("an unknown message type in the middle of the handshake is answered with the phase's failure", async () => {
    const { card, store, saves } = await pairedCard();
    const phone = new ActiveCardPhone({ ...phoneOptions, store: new MemoryPairedCardStore() });
    const tamper = onType(ActiveCardEvent.SEND_IDENTITY_PUBLIC_KEY, (m) =>
      editWrapper(m, (w) => (w.messageType = ActiveCardEvent.MPC_REFUSED + 1)),
    );
    const link = connect(card, { phone: tamper });
    expect(await failure(phone.pair(link.phoneLink, card.qrPayload(), "bob@example.com"))).toMatchObject({
      code: "CARD_REFUSED",
      reason: "UNKNOWN_MESSAGE_TYPE",
    });
    await link.phoneLink.close();
    await link.served;
    // The phone's NONCE_REQUEST was already on its way; the idle card refuses it as a session start.
    expect(link.errors.map((e) => e.code)).toEqual(["UNKNOWN_MESSAGE_TYPE", "UNEXPECTED_MESSAGE"]);
    expect(store.saves).toBe(saves);
    await expectStillServes(card);
  });

  it("arbitrary bytes never crash the card or change its state", async () => {
    const { card, store, saves } = await pairedCard();
    const link = connect(card);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (payload) => {
        await link.phoneLink.send({ type: CARD_LINK_MESSAGE_TYPE, payload });
      }),
      { numRuns: 200 },
    );
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.length).toBeGreaterThan(0);
    expect(link.errors.every((e) => e instanceof CardProtocolError)).toBe(true);
    expect(store.saves).toBe(saves);
    await expectStillServes(card);
  });

  it("an encrypted message with a bad tag", async () => {
    const { card, store, saves, phone } = await pairedCard();
    const tamper = onType(ActiveCardEvent.ECDH_EXCHANGE_ACK, (m) =>
      editWrapper(m, (w) => (w.tag = flipLast(w.tag))),
    );
    const link = connect(card, { phone: tamper });
    expect(await failure(phone.reconnect(link.phoneLink, card.deviceId))).toMatchObject({
      code: "CARD_REFUSED",
      phase: "ecdh",
      reason: "DECRYPTION_FAILED",
    });
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => e.code)).toEqual(["DECRYPTION_FAILED"]);
    expect(store.saves).toBe(saves);
    await expectStillServes(card);
  });

  it("forget from an unauthenticated phone (plaintext) and from an authenticated but unpaired phone", async () => {
    const { card, store, saves } = await pairedCard();
    const link = connect(card);
    const plain = new CardChannel({
      link: link.phoneLink,
      crypto,
      role: CardRole.phone,
      sessionId: crypto.randomBytes(16),
      sessionStartTime: 1n,
      timeoutMs: 1000,
    });
    await plain.send(ActiveCardEvent.FORGET_DEVICE);
    expect(await failure(expectMessage(plain, "forget", ActiveCardEvent.FORGET_ACK))).toBeInstanceOf(
      CardRefusedError,
    );

    const stranger = await scriptedHandshake(crypto, link.phoneLink, crypto.generateKeyPair());
    await stranger.send(ActiveCardEvent.FORGET_DEVICE);
    const refusal = await failure(expectMessage(stranger, "forget", ActiveCardEvent.FORGET_ACK));
    expect(refusal).toBeInstanceOf(CardRefusedError);
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => [e.code, (e as CardProtocolError).phase])).toEqual([
      ["NOT_AUTHENTICATED", "forget"],
      ["NOT_PAIRED", "forget"],
    ]);
    expect([store.saves, card.pairedPhones.length]).toEqual([saves, 1]);
    await expectStillServes(card);
  });

  it("reconnect by a phone the card does not know is refused only after it proved its key", async () => {
    const { card, store, saves } = await pairedCard();
    const link = connect(card);
    expect(
      await failure(scriptedHandshake(crypto, link.phoneLink, crypto.generateKeyPair(), { reconnect: true })),
    ).toMatchObject({ code: "CARD_REFUSED", reason: "NOT_PAIRED" });
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => e.code)).toEqual(["NOT_PAIRED"]);
    expect(store.saves).toBe(saves);
  });

  it("binding a user who is not the card's owner", async () => {
    const { card, store, saves } = await pairedCard();
    const phoneStore = new MemoryPairedCardStore();
    const phone = new ActiveCardPhone({ ...phoneOptions, store: phoneStore });
    const link = connect(card);
    expect(await failure(phone.pair(link.phoneLink, card.qrPayload(), "mallory@example.com"))).toMatchObject({
      code: "CARD_REFUSED",
      phase: "binding",
    });
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => e.code)).toEqual(["USER_MISMATCH"]);
    expect([store.saves, phoneStore.size, card.pairedPhones.length]).toEqual([saves, 0, 1]);
    await expectStillServes(card);
  });

  it("a stale QR code is refused before any radio traffic", async () => {
    const { card } = await pairedCard();
    const phone = new ActiveCardPhone({ ...phoneOptions, store: new MemoryPairedCardStore() });
    const link = connect(card);
    const qr = { ...card.qrPayload(), timestamp: Math.floor(Date.now() / 1000) - 3600 };
    await expect(phone.pair(link.phoneLink, qr, "bob@example.com")).rejects.toMatchObject({
      code: "QR_STALE",
    });
    await link.phoneLink.close();
    await link.served;
    expect(link.errors).toEqual([]);
  });
});

describe("session expiry", () => {
  it("the card ends a session at its lifetime; the phone enforces its own", async () => {
    const clock = new ManualClock(Date.now());
    const store = new MemoryCardStore();
    const card = await CardSimulator.open({ crypto, store, clock, sessionLifetimeMs: 60_000, ...cardInfo });
    const phoneStore = new MemoryPairedCardStore();
    const phone = new ActiveCardPhone({ crypto, store: phoneStore, clock, sessionLifetimeMs: 3_600_000 });
    const pairing = connect(card, { clock });
    await (await phone.pair(pairing.phoneLink, card.qrPayload(), "bob@example.com")).close();
    await pairing.served;

    const link = connect(card, { clock });
    const session = await phone.reconnect(link.phoneLink, card.deviceId);
    clock.advance(60_000);
    await Promise.resolve();
    // The card is idle again: the late FORGET_DEVICE is not inside an authenticated session.
    expect((await failure(session.forget())).code).toBe("NOT_ENCRYPTED");
    await link.phoneLink.close();
    await link.served;
    expect(link.errors.map((e) => e.code)).toEqual(["SESSION_EXPIRED", "NOT_AUTHENTICATED"]);
    expect([card.pairedPhones.length, phoneStore.size]).toEqual([1, 1]);

    const shortPhone = new ActiveCardPhone({ crypto, store: phoneStore, clock, sessionLifetimeMs: 1_000 });
    const again = connect(card, { clock });
    const short = await shortPhone.reconnect(again.phoneLink, card.deviceId);
    clock.advance(1_000);
    expect((await failure(short.forget())).code).toBe("SESSION_EXPIRED");
    await again.phoneLink.close();
    await again.served;
    expect(card.pairedPhones).toHaveLength(1);
  });
});
