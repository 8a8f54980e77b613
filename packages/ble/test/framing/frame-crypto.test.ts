import { DecryptionError, InvalidLengthError, nobleCrypto, toHex } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  chunkMessage,
  Direction,
  FrameFlags,
  FrameType,
  MessageOpener,
  MessageSealer,
  SEALED_OVERHEAD,
  type SealedMessageFields,
} from "../../src/index.ts";
import { frameErrorCode } from "./helpers/frame-error-code.ts";

const kenc = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const fields: SealedMessageFields = {
  type: FrameType.DEVICE_CONFIG,
  totalSeq: 2,
  flags: FrameFlags.ENCRYPTED,
};
const c2p = Direction.CENTRAL_TO_PERIPHERAL;

describe.each([nobleCrypto, nodeCrypto])("message sealing ($name)", (crypto) => {
  it("reproduces the vector of docs/protocol.md §2.6", () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const payload = Uint8Array.from({ length: 17 }, (_, i) => 0xe0 + i);
    const vectorFields = { type: FrameType.ENDPOINT_READY, totalSeq: 3, flags: FrameFlags.ENCRYPTED };
    const body = new MessageSealer(crypto, key, c2p).seal(vectorFields, payload);
    expect(toHex(body)).toBe(
      "0000000000000000" + "02cd60dc404a0ae0a2edef28d02c66243c" + "2a347e2d8227e9d0373d154f97e1495b",
    );
    expect(chunkMessage(vectorFields, body, 20).map(toHex)).toEqual([
      "010800030e01000000000000000002cd60dc404a",
      "010801030e010ae0a2edef28d02c66243c2a347e",
      "010802030d012d8227e9d0373d154f97e1495b",
    ]);
    expect(new MessageOpener(crypto, key, c2p).open(vectorFields, body)).toEqual(payload);
  });

  it("round-trips any plaintext and adds exactly counter + tag", () => {
    const sealer = new MessageSealer(crypto, kenc, c2p);
    const opener = new MessageOpener(crypto, kenc, c2p);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (plaintext) => {
        const sealed = sealer.seal(fields, plaintext);
        expect(sealed.length).toBe(plaintext.length + SEALED_OVERHEAD);
        expect(opener.open(fields, sealed)).toEqual(plaintext);
      }),
      { numRuns: 100 },
    );
  });

  it("carries the counter in clear, big-endian, from 0", () => {
    const sealer = new MessageSealer(crypto, kenc, c2p);
    expect([...sealer.seal(fields, new Uint8Array(4)).subarray(0, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...sealer.seal(fields, new Uint8Array(4)).subarray(0, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it("matches the documented nonce and AAD (an independent AES-GCM call opens it)", () => {
    const sealed = new MessageSealer(crypto, kenc, Direction.PERIPHERAL_TO_CENTRAL).seal(
      fields,
      Uint8Array.of(7),
    );
    const nonce = Uint8Array.of(0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const aad = Uint8Array.of(0x01, FrameType.DEVICE_CONFIG, 2, FrameFlags.ENCRYPTED, 0, 0, 0, 0, 0, 0, 0, 0);
    expect(nobleCrypto.aesGcmDecrypt(kenc, nonce, sealed.subarray(8), aad)).toEqual(Uint8Array.of(7));
  });

  it("never repeats a ciphertext for the same plaintext", () => {
    const sealer = new MessageSealer(crypto, kenc, c2p);
    const a = sealer.seal(fields, new Uint8Array(16));
    const b = sealer.seal(fields, new Uint8Array(16));
    expect(a.subarray(8)).not.toEqual(b.subarray(8));
  });

  it("rejects a replayed message and a skipped one, without moving the counter", () => {
    const sealer = new MessageSealer(crypto, kenc, c2p);
    const opener = new MessageOpener(crypto, kenc, c2p);
    const first = sealer.seal(fields, Uint8Array.of(1));
    const second = sealer.seal(fields, Uint8Array.of(2));
    const third = sealer.seal(fields, Uint8Array.of(3));
    expect(frameErrorCode(() => opener.open(fields, second))).toBe("COUNTER_GAP");
    expect(opener.open(fields, first)).toEqual(Uint8Array.of(1));
    expect(frameErrorCode(() => opener.open(fields, first))).toBe("REPLAYED_COUNTER");
    expect(opener.open(fields, second)).toEqual(Uint8Array.of(2));
    expect(opener.open(fields, third)).toEqual(Uint8Array.of(3));
  });

  it("rejects every single-bit change, and a rejected message leaves the opener as it was", () => {
    const sealer = new MessageSealer(crypto, kenc, c2p);
    const opener = new MessageOpener(crypto, kenc, c2p);
    const sealed = sealer.seal(
      fields,
      Uint8Array.from({ length: 20 }, (_, i) => i),
    );
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const altered = sealed.slice();
      altered[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => opener.open(fields, altered)).toThrow(bit < 64 ? /counter/ : DecryptionError);
    }
    expect(opener.open(fields, sealed).length).toBe(20);
  });

  it("authenticates the header fields", () => {
    for (const other of [
      { ...fields, type: FrameType.ERROR },
      { ...fields, totalSeq: 3 },
      { ...fields, flags: 0 },
    ]) {
      const sealed = new MessageSealer(crypto, kenc, c2p).seal(fields, Uint8Array.of(1));
      expect(() => new MessageOpener(crypto, kenc, c2p).open(other, sealed)).toThrow(DecryptionError);
    }
  });

  it("fails a message reflected back to its sender", () => {
    const sealed = new MessageSealer(crypto, kenc, c2p).seal(fields, Uint8Array.of(1));
    const senderOwnOpener = new MessageOpener(crypto, kenc, Direction.PERIPHERAL_TO_CENTRAL);
    expect(() => senderOwnOpener.open(fields, sealed)).toThrow(DecryptionError);
  });

  it("fails under another key", () => {
    const sealed = new MessageSealer(crypto, kenc, c2p).seal(fields, Uint8Array.of(1));
    expect(() => new MessageOpener(crypto, new Uint8Array(32), c2p).open(fields, sealed)).toThrow(
      DecryptionError,
    );
  });

  it("rejects a body too short to hold counter and tag", () => {
    const opener = new MessageOpener(crypto, kenc, c2p);
    expect(frameErrorCode(() => opener.open(fields, new Uint8Array(SEALED_OVERHEAD - 1)))).toBe(
      "SEALED_TOO_SHORT",
    );
  });

  it("only ever throws typed errors on random bodies", () => {
    const opener = new MessageOpener(crypto, kenc, c2p);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (body) => {
        expect(() => opener.open(fields, body)).toThrow(/counter|sealed message|authentication/);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses to seal once the 64-bit counter is used up", () => {
    const sealer = new MessageSealer(crypto, kenc, c2p, 2n ** 64n - 1n);
    const last = sealer.seal(fields, Uint8Array.of(1));
    expect([...last.subarray(0, 8)]).toEqual([255, 255, 255, 255, 255, 255, 255, 255]);
    expect(frameErrorCode(() => sealer.seal(fields, Uint8Array.of(1)))).toBe("COUNTER_EXHAUSTED");
  });

  it("takes a 32- or 16-byte Kenc (rfc9383 or ccc profile) and wipes its copy on destroy", () => {
    expect(() => new MessageSealer(crypto, new Uint8Array(24), c2p)).toThrow(InvalidLengthError);
    const short = kenc.subarray(0, 16);
    const sealedShort = new MessageSealer(crypto, short, c2p).seal(fields, Uint8Array.of(9));
    expect(new MessageOpener(crypto, short, c2p).open(fields, sealedShort)).toEqual(Uint8Array.of(9));
    const key = Buffer.from(kenc);
    const sealer = new MessageSealer(crypto, key, c2p);
    const opener = new MessageOpener(crypto, key, c2p);
    const sealed = sealer.seal(fields, Uint8Array.of(1));
    key.fill(0);
    expect(opener.open(fields, sealed)).toEqual(Uint8Array.of(1));
    opener.destroy();
    sealer.destroy();
    const callerKey = Buffer.from(kenc);
    new MessageSealer(crypto, callerKey, c2p).destroy();
    expect(callerKey).toEqual(Buffer.from(kenc));
    expect(() =>
      new MessageOpener(crypto, kenc, c2p, 1n).open(fields, sealer.seal(fields, Uint8Array.of(1))),
    ).toThrow(DecryptionError);
  });
});
