import { createCipheriv } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ActiveCardEvent,
  CardChannel,
  CardRole,
  challengeMessage,
  ECDHExchangeAckSchema,
  ephemeralKeyMessage,
  fromHex,
  type Link,
  type LinkMessage,
  PairingConfirmationSchema,
  toHex,
} from "../../src/index.ts";
import { backends } from "../backends.ts";

// The worked examples of docs/protocol.md §4.9, recomputed here.
const sessionId = fromHex("000102030405060708090a0b0c0d0e0f");
const startTime = 1_715_148_123_000n;
const sessionKey = fromHex("faa48b7490891c055d20635ee0e34116ee20b20970d4fc6c3ccf3d6826a1fa2d");
const phoneEphemeralPub = fromHex(
  "040dcc7648c78a3118f2612866fe83ef19f40304f623399e1211a10f2b3d1c05cf30e8027677bcb912943e99ff71140ea9bc24713be1b75c31ff4054724c4f9d00",
);
const nonce11 = new Uint8Array(32).fill(0x11);
const nonce22 = new Uint8Array(32).fill(0x22);

const docs = {
  challenge:
    "706169726b69742f6163746976652d636172642f76312f6368616c6c656e6765" +
    "0002" +
    "000102030405060708090a0b0c0d0e0f" +
    "11".repeat(32) +
    "22".repeat(32),
  ephemeral:
    "706169726b69742f6163746976652d636172642f76312f65636468" +
    "0001" +
    "000102030405060708090a0b0c0d0e0f" +
    "11".repeat(32) +
    "22".repeat(32) +
    toHex(phoneEphemeralPub),
  ack:
    "080710021a10000102030405060708090a0b0c0d0e0f20f8d6adb6f5312a021599300c3810420c020000000000000000000000" +
    "4a10fc7ed8caceef554fb60cdcf447a1213b5001",
  confirmation:
    "080910021a10000102030405060708090a0b0c0d0e0f20f8d6adb6f5312a0268e2300c3810420c020000000000000000000001" +
    "4a1028931c571890d54a8abf18c0d0721aa05001",
};

describe("docs/protocol.md §4 vectors", () => {
  it("signed messages", () => {
    expect(
      toHex(
        challengeMessage({ signer: CardRole.card, sessionId, verifierNonce: nonce11, signerNonce: nonce22 }),
      ),
    ).toBe(docs.challenge);
    expect(
      toHex(
        ephemeralKeyMessage({
          signer: CardRole.phone,
          sessionId,
          phoneNonce: nonce11,
          cardNonce: nonce22,
          ephemeralPublicKey: phoneEphemeralPub,
        }),
      ),
    ).toBe(docs.ephemeral);
  });

  it("the sizes §4.4 states are the sizes signed", () => {
    const spec = readFileSync(new URL("../../../../docs/protocol.md", import.meta.url), "utf8");
    const stated = (name: string) => Number(new RegExp(`${name} = [^]*?(\\d+) bytes`).exec(spec)?.[1]);
    const challenge = challengeMessage({
      signer: CardRole.card,
      sessionId,
      verifierNonce: nonce11,
      signerNonce: nonce22,
    });
    const ephemeral = ephemeralKeyMessage({
      signer: CardRole.phone,
      sessionId,
      phoneNonce: nonce11,
      cardNonce: nonce22,
      ephemeralPublicKey: phoneEphemeralPub,
    });
    expect([stated("challengeMessage"), stated("ephemeralMessage")]).toEqual([
      challenge.length,
      ephemeral.length,
    ]);
  });

  it.each(backends)("encrypted wrappers ($name)", async (crypto) => {
    const sent: LinkMessage[] = [];
    const link = { send: async (m: LinkMessage) => void sent.push(m) } as unknown as Link;
    const card = new CardChannel({
      link,
      crypto,
      role: CardRole.card,
      sessionId,
      sessionStartTime: startTime,
      timeoutMs: 1,
    });
    card.secure(sessionKey);
    await card.send(ActiveCardEvent.ECDH_EXCHANGE_ACK, ECDHExchangeAckSchema, { success: true });
    await card.send(ActiveCardEvent.PAIRING_CONFIRMATION, PairingConfirmationSchema, { confirmed: true });
    expect(sent.map((m) => m.type)).toEqual([0x30, 0x30]);
    expect(sent.map((m) => toHex(m.payload))).toEqual([docs.ack, docs.confirmation]);
  });

  it("the ciphertext and tag follow from the documented nonce and AAD alone (node:crypto)", () => {
    // ECDH_EXCHANGE_ACK { success: true } = 08 01; card → phone, counter 0.
    const iv = fromHex("020000000000000000000000");
    const aad = fromHex(`00000007` + `00000002` + toHex(sessionId) + "0000018f56cb6b78" + toHex(iv));
    const cipher = createCipheriv("aes-256-gcm", sessionKey, iv).setAAD(aad);
    const ct = Buffer.concat([cipher.update(Uint8Array.of(0x08, 0x01)), cipher.final()]);
    expect(docs.ack).toContain(`2a02${ct.toString("hex")}`);
    expect(docs.ack).toContain(`4a10${cipher.getAuthTag().toString("hex")}`);
  });
});
