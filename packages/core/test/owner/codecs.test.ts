import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeDescriptor,
  decodeDeviceConfig,
  decodeDeviceConfigAck,
  decodeEndpointReady,
  decodeErrorFrame,
  decodeKeyAttestation,
  decodeMailbox,
  decodeOpControlFlow,
  decodeSelectCommand,
  decodeSelectResponse,
  decodeSigBitmapUpdate,
  decodeSpake2Request,
  decodeSpake2Response,
  decodeSpake2Verify,
  decodeSpake2VerifyResponse,
  decodeTxnAuth0,
  decodeTxnAuth0Response,
  decodeTxnAuth1,
  decodeTxnAuth1Response,
  decodeTxnResult,
  decodeTxnStart,
  encodeDescriptor,
  encodeDeviceConfig,
  encodeDeviceConfigAck,
  encodeEndpointReady,
  encodeErrorFrame,
  encodeKeyAttestation,
  encodeMailbox,
  encodeOpControlFlow,
  encodeSelectCommand,
  encodeSelectResponse,
  encodeSigBitmapUpdate,
  encodeSpake2Request,
  encodeSpake2Response,
  encodeSpake2Verify,
  encodeSpake2VerifyResponse,
  encodeTxnAuth0,
  encodeTxnAuth0Response,
  encodeTxnAuth1,
  encodeTxnAuth1Response,
  encodeTxnResult,
  encodeTxnStart,
  fromHex,
  MessageFormatError,
  utf8,
} from "../../src/index.ts";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const signature = fc.uint8Array({ minLength: 8, maxLength: 72 });
const text = fc.string({ minLength: 1, maxLength: 64 });
const mailbox = fc.record({
  privateMailbox: fc.record({ offset: u16, size: u16 }),
  confidentialMailbox: fc.record({ offset: u16, size: u16 }),
  signalingBitmapOffset: u16,
  keyAttestationOffset: u16,
});
const descriptor = fc.record(
  {
    model: text,
    trim: text,
    modelYear: fc.integer({ min: 1900, max: 9999 }),
    certificateChain: fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), {
      minLength: 1,
      maxLength: 4,
    }),
  },
  { requiredKeys: ["model", "certificateChain"] },
);

/** Each codec: an arbitrary valid message, its encoder and its decoder. */
const codecs: Array<{
  name: string;
  arb: fc.Arbitrary<unknown>;
  encode: (m: never) => Uint8Array;
  decode: (b: Uint8Array) => unknown;
}> = [
  {
    name: "SELECT",
    arb: fc.record({
      protocolVersion: u8,
      pairingMode: u8,
      deviceId: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    }),
    encode: encodeSelectCommand,
    decode: decodeSelectCommand,
  },
  {
    name: "SELECT response",
    arb: fc.record({
      appletVersionMajor: u8,
      appletVersionMinor: u8,
      protocolVersion: u8,
      pairingMode: u8,
      capabilities: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
    encode: encodeSelectResponse,
    decode: decodeSelectResponse,
  },
  {
    name: "SPAKE2_REQUEST",
    arb: fc.record({
      version: u8,
      attemptRemaining: u8,
      salt: bytes(16),
      scrypt: fc.record({ N: u32, r: u32, p: u32 }),
      vehicleNonce: bytes(16),
    }),
    encode: encodeSpake2Request,
    decode: decodeSpake2Request,
  },
  {
    name: "SPAKE2_RESPONSE",
    arb: fc.record({ pointX: bytes(65), deviceNonce: bytes(16) }),
    encode: encodeSpake2Response,
    decode: decodeSpake2Response,
  },
  {
    name: "SPAKE2_VERIFY",
    arb: fc.record({ pointY: bytes(65), evidence: bytes(32), policyFlags: u8, vehicleEntropy: bytes(16) }),
    encode: encodeSpake2Verify,
    decode: decodeSpake2Verify,
  },
  {
    name: "SPAKE2_VERIFY_RESPONSE",
    arb: fc.record({ evidence: bytes(32) }),
    encode: encodeSpake2VerifyResponse,
    decode: decodeSpake2VerifyResponse,
  },
  {
    name: "DEVICE_CONFIG",
    arb: fc.record({
      vehicleId: fc.uint8Array({ minLength: 1, maxLength: 64 }),
      descriptor: fc.uint8Array({ minLength: 1, maxLength: 300 }),
      mailbox: fc.uint8Array({ minLength: 1, maxLength: 255 }),
      authorizedKeys: fc.array(fc.record({ keyId: bytes(16), publicKey: bytes(65), roleFlags: u8 }), {
        maxLength: 16,
      }),
      policyDigest: bytes(32),
    }),
    encode: encodeDeviceConfig,
    decode: decodeDeviceConfig,
  },
  {
    name: "DEVICE_CONFIG_ACK",
    arb: fc.record({ configDigest: bytes(32) }),
    encode: encodeDeviceConfigAck,
    decode: decodeDeviceConfigAck,
  },
  {
    name: "ENDPOINT_READY",
    arb: fc.record({
      endpointIdHash: bytes(16),
      seStatus: u8,
      endpointPublicKey: bytes(65),
      receiptMac: bytes(32),
    }),
    encode: encodeEndpointReady,
    decode: decodeEndpointReady,
  },
  {
    name: "OP_CONTROL_FLOW",
    arb: fc.record({ p1: u8, p2: u8 }),
    encode: encodeOpControlFlow,
    decode: decodeOpControlFlow,
  },
  {
    name: "SIG_BITMAP_UPDATE",
    arb: fc.record({
      signalingBitmap: u8,
      keyAttestation: fc.uint8Array({ maxLength: 300 }),
      receiptMac: bytes(32),
    }),
    encode: encodeSigBitmapUpdate,
    decode: decodeSigBitmapUpdate,
  },
  {
    name: "ERROR",
    arb: fc.record({
      phase: fc.integer({ min: 1, max: 5 }),
      errorCode: u16,
      retryAllowed: fc.boolean(),
      detail: fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength: 128,
      }),
    }),
    encode: encodeErrorFrame,
    decode: decodeErrorFrame,
  },
  {
    name: "key attestation",
    arb: fc.record({
      keyId: bytes(16),
      vehicleId: fc.uint8Array({ minLength: 1, maxLength: 64 }),
      endpointPublicKeyHash: bytes(32),
      issuedAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      signature,
    }),
    encode: encodeKeyAttestation,
    decode: decodeKeyAttestation,
  },
  { name: "mailbox", arb: mailbox, encode: encodeMailbox, decode: decodeMailbox },
  { name: "descriptor", arb: descriptor, encode: encodeDescriptor, decode: decodeDescriptor },
  { name: "TXN_START", arb: fc.record({ version: u8 }), encode: encodeTxnStart, decode: decodeTxnStart },
  {
    name: "TXN_AUTH0",
    arb: fc.record({ vehicleEphemeralPublicKey: bytes(65), transactionId: bytes(16) }),
    encode: encodeTxnAuth0,
    decode: decodeTxnAuth0,
  },
  {
    name: "TXN_AUTH0_RESPONSE",
    arb: fc.record({ deviceEphemeralPublicKey: bytes(65) }),
    encode: encodeTxnAuth0Response,
    decode: decodeTxnAuth0Response,
  },
  {
    name: "TXN_AUTH1",
    arb: fc.record({ vehicleSignature: signature }),
    encode: encodeTxnAuth1,
    decode: decodeTxnAuth1,
  },
  {
    name: "TXN_AUTH1_RESPONSE",
    arb: fc.record(
      {
        keyId: bytes(16),
        endpointSignature: signature,
        keyAttestation: fc.uint8Array({ minLength: 1, maxLength: 194 }),
      },
      { requiredKeys: ["keyId", "endpointSignature"] },
    ),
    encode: encodeTxnAuth1Response,
    decode: decodeTxnAuth1Response,
  },
  { name: "TXN_RESULT", arb: fc.record({ status: u8 }), encode: encodeTxnResult, decode: decodeTxnResult },
];

/** Node's Buffer and Uint8Array compare equal by content only after normalising. */
function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  return value;
}

/**
 * Messages whose last field runs to the end (seed 001: capabilities, detail), or ends in an optional
 * field (TXN_AUTH1_RESPONSE's owed KeyAtt): a cut exactly before it is still a canonical message.
 */
const VARIABLE_TAIL = new Set(["SELECT response", "ERROR", "TXN_AUTH1_RESPONSE"]);

describe.each(codecs)("$name codec", ({ name, arb, encode, decode }) => {
  it("round-trips every valid message", () => {
    fc.assert(
      fc.property(arb, (m) => {
        const encoded = encode(m as never);
        expect(normalise(decode(encoded))).toEqual(normalise(m));
        expect(encode(decode(encoded) as never)).toEqual(encoded);
      }),
      { numRuns: 150 },
    );
  });

  it("rejects garbage with a MessageFormatError and nothing else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (garbage) => {
        try {
          decode(garbage);
        } catch (error) {
          expect(error).toBeInstanceOf(MessageFormatError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("rejects every truncation and a trailing byte (except where the seed ends in a variable tail)", () => {
    fc.assert(
      fc.property(arb, fc.nat(), (m, cut) => {
        const encoded = encode(m as never);
        const truncated = encoded.subarray(0, cut % encoded.length);
        const extended = Uint8Array.from([...encoded, 0x20]);
        for (const altered of [truncated, extended]) {
          if (!VARIABLE_TAIL.has(name)) {
            expect(() => decode(altered)).toThrow(MessageFormatError);
            continue;
          }
          // A variable tail may absorb bytes, but only ever as a canonical message.
          try {
            expect(encode(decode(altered) as never)).toEqual(altered);
          } catch (error) {
            expect(error).toBeInstanceOf(MessageFormatError);
          }
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe("schema checks beyond framing", () => {
  it("descriptor: unknown keys, wrong version and non-deterministic CBOR are refused", () => {
    const good = encodeDescriptor({ model: "X", certificateChain: [Uint8Array.of(1)] });
    // a2 (map of 2) instead of a3, same content, is malformed; a duplicate key is non-deterministic
    expect(() => decodeDescriptor(Uint8Array.of(0xa1, 0x61, 0x76, 0x02))).toThrow(/v must be 1/);
    expect(() => decodeDescriptor(Uint8Array.of(0xa2, 0x61, 0x76, 0x01, 0x61, 0x76, 0x01))).toThrow(
      MessageFormatError,
    );
    expect(() => decodeDescriptor(Uint8Array.of(0xa1, 0x61, 0x7a, 0x01))).toThrow(/unknown key/);
    expect(decodeDescriptor(good).model).toBe("X");
  });

  it("descriptor: keys out of the §3.5 order are refused, even in otherwise canonical CBOR", () => {
    const text = (s: string) => [0x60 + s.length, ...new TextEncoder().encode(s)];
    const v = [...text("v"), 0x01];
    const model = [...text("model"), ...text("X")];
    const year = [...text("year"), 0x19, 0x07, 0xea]; // 2026
    const chain = [...text("certChain"), 0x81, 0x41, 0x01];
    const map = (...entries: number[][]) => Uint8Array.from([0xa0 + entries.length, ...entries.flat()]);
    expect(decodeDescriptor(map(v, model, year, chain))).toMatchObject({ model: "X", modelYear: 2026 });
    for (const misordered of [map(model, v, chain), map(v, model, chain, year), map(chain, v, model)])
      expect(() => decodeDescriptor(misordered)).toThrow(/order/);
  });

  it("descriptor: CBOR tags are refused before decoding (shared references 28/29 made a cycle)", () => {
    for (const hex of ["d81c81d81d00", "d81ca16161d81d00", "c11a514b67b0", "a16176d82001", "d9d9f7a0"]) {
      expect(() => decodeDescriptor(fromHex(hex)), hex).toThrow(/CBOR tags are not used/);
    }
    // Indefinite lengths, nesting deeper than map → array → bytes, and trailing items.
    for (const hex of ["bf617601ff", "a1617681818101", "a1617601a0"]) {
      expect(() => decodeDescriptor(fromHex(hex)), hex).toThrow(MessageFormatError);
    }
  });

  it("descriptor: any CBOR tree, tags and shared references included, gives a descriptor or a MessageFormatError", () => {
    // Data items built from their heads (RFC 8949 §3), so that tags land inside structures.
    const head = (major: number, n: number) =>
      n < 24 ? [(major << 5) | n] : n < 256 ? [(major << 5) | 24, n] : [(major << 5) | 25, n >> 8, n & 0xff];
    const { item } = fc.letrec<{ item: number[] }>((tie) => ({
      item: fc.oneof(
        { depthSize: "small" },
        fc.oneof(fc.constant(0), fc.nat(300)).map((n) => head(0, n)),
        fc
          .constantFrom("v", "model", "trim", "year", "certChain", "a")
          .map((t) => [...head(3, t.length), ...utf8(t)]),
        fc.uint8Array({ maxLength: 4 }).map((b) => [...head(2, b.length), ...b]),
        fc.array(tie("item"), { maxLength: 3 }).map((items) => [...head(4, items.length), ...items.flat()]),
        fc
          .array(fc.tuple(tie("item"), tie("item")), { maxLength: 3 })
          .map((pairs) => [...head(5, pairs.length), ...pairs.flat(2)]),
        fc
          .tuple(fc.constantFrom(1, 2, 28, 29, 55799, 256), tie("item"))
          .map(([tag, inner]) => [...head(6, tag), ...inner]),
      ),
    }));
    fc.assert(
      fc.property(item, (bytes) => {
        try {
          decodeDescriptor(Uint8Array.from(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(MessageFormatError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("mailbox: duplicate, out-of-order and unknown tags are refused", () => {
    const good = encodeMailbox({
      privateMailbox: { offset: 1, size: 2 },
      confidentialMailbox: { offset: 3, size: 4 },
      signalingBitmapOffset: 5,
      keyAttestationOffset: 6,
    });
    const swapped = Uint8Array.from([...good.subarray(6, 12), ...good.subarray(0, 6), ...good.subarray(12)]);
    expect(() => decodeMailbox(swapped)).toThrow(/ascending/);
    expect(() => decodeMailbox(Uint8Array.from([...good, 0x09, 0x00]))).toThrow(/unknown tag/);
    expect(() => decodeMailbox(good.subarray(0, 12))).toThrow(/missing/);
  });
});
