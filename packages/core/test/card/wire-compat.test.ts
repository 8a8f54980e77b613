import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import protobuf from "protobufjs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ActiveCardEvent,
  ECDHPublicKeySchema,
  IdentityPublicKeySchema,
  SignedNonceSchema,
  TransportMessageWrapperSchema,
} from "../../src/card/index.ts";

// Wire compatibility: protobufjs, loading the same .proto at test time, decodes what
// protobuf-es writes and the other way round.
const protoPath = fileURLToPath(
  new URL("../../../../proto/pairkit/activecard/v1/active_card.proto", import.meta.url),
);
let root: protobuf.Root;
beforeAll(async () => {
  root = await protobuf.load(protoPath);
});
const type = (name: string) => root.lookupType(`pairkit.activecard.v1.${name}`);

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const wrapperArb = fc.record({
  messageType: fc.integer({ min: 0, max: 0xffffffff }),
  messageSize: fc.integer({ min: 0, max: 0xffffffff }),
  sessionId: bytes(16),
  sessionStartTime: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  contents: bytes(64),
  ivLen: fc.integer({ min: 0, max: 255 }),
  tagLen: fc.integer({ min: 0, max: 255 }),
  iv: bytes(12),
  tag: bytes(16),
  isEncrypted: fc.boolean(),
});

describe("TransportMessageWrapper wire compatibility (protobuf-es ↔ protobufjs)", () => {
  it("protobufjs decodes protobuf-es bytes field for field", () => {
    fc.assert(
      fc.property(wrapperArb, (w) => {
        const ours = toBinary(TransportMessageWrapperSchema, create(TransportMessageWrapperSchema, w));
        const theirs = type("TransportMessageWrapper").toObject(
          type("TransportMessageWrapper").decode(ours),
          {
            longs: String,
            defaults: true,
          },
        );
        expect(theirs.messageType).toBe(w.messageType);
        expect(theirs.messageSize).toBe(w.messageSize);
        expect(BigInt(theirs.sessionStartTime)).toBe(w.sessionStartTime);
        expect(new Uint8Array(theirs.sessionId)).toEqual(w.sessionId);
        expect(new Uint8Array(theirs.contents)).toEqual(w.contents);
        expect(new Uint8Array(theirs.iv)).toEqual(w.iv);
        expect(new Uint8Array(theirs.tag)).toEqual(w.tag);
        expect([theirs.ivLen, theirs.tagLen, theirs.isEncrypted]).toEqual([w.ivLen, w.tagLen, w.isEncrypted]);
      }),
    );
  });

  it("protobuf-es decodes protobufjs bytes, and both write identical bytes", () => {
    fc.assert(
      fc.property(wrapperArb, (w) => {
        const js = type("TransportMessageWrapper");
        const theirs = js
          .encode(js.fromObject({ ...w, sessionStartTime: w.sessionStartTime.toString() }))
          .finish();
        const decoded = fromBinary(TransportMessageWrapperSchema, new Uint8Array(theirs));
        expect(decoded.sessionStartTime).toBe(w.sessionStartTime);
        expect(decoded.messageType).toBe(w.messageType);
        expect(decoded.sessionId).toEqual(w.sessionId);
        expect(decoded.contents).toEqual(w.contents);
        expect(toBinary(TransportMessageWrapperSchema, decoded)).toEqual(new Uint8Array(theirs));
      }),
    );
  });
});

describe("payload messages wire compatibility", () => {
  it("the added fields (signer_nonce, reconnect, signature) carry the numbers of the .proto", () => {
    const signed = toBinary(
      SignedNonceSchema,
      create(SignedNonceSchema, { signature: Uint8Array.of(1, 2), signerNonce: Uint8Array.of(3) }),
    );
    expect(Array.from(signed)).toEqual([0x0a, 2, 1, 2, 0x12, 1, 3]);
    const identity = create(IdentityPublicKeySchema, {
      pubkey: Uint8Array.of(4),
      source: "mobile",
      reconnect: true,
    });
    const js = type("IdentityPublicKey").decode(toBinary(IdentityPublicKeySchema, identity)) as unknown as {
      reconnect: boolean;
      source: string;
    };
    expect([js.reconnect, js.source]).toEqual([true, "mobile"]);
    const ecdh = type("ECDHPublicKey");
    const theirs = ecdh
      .encode(
        ecdh.fromObject({ pubkey: Uint8Array.of(5), source: "firmware", signature: Uint8Array.of(6, 7) }),
      )
      .finish();
    const ours = fromBinary(ECDHPublicKeySchema, new Uint8Array(theirs));
    expect([ours.pubkey, ours.source, ours.signature]).toEqual([
      Uint8Array.of(5),
      "firmware",
      Uint8Array.of(6, 7),
    ]);
  });

  it("ActiveCardEvent ids are the seed's", () => {
    const js = root.lookupEnum("pairkit.activecard.v1.ActiveCardEvent").values;
    const seed = {
      NONCE_REQUEST: 1,
      NONCE_RESPONSE: 2,
      SIGNED_NONCE: 3,
      SIGNATURE_VERIFICATION_RESULT: 4,
      SEND_IDENTITY_PUBLIC_KEY: 5,
      SEND_ECDH_PUBLIC_KEY: 6,
      ECDH_EXCHANGE_ACK: 7,
      SEND_USER_IDENTITY: 8,
      PAIRING_CONFIRMATION: 9,
      FORGET_DEVICE: 10,
      FORGET_ACK: 11,
    };
    for (const [name, id] of Object.entries(seed)) {
      expect(ActiveCardEvent[name as keyof typeof ActiveCardEvent]).toBe(id);
      expect(js[name]).toBe(id);
    }
  });
});
