import { describe, expect, it } from "vitest";
import {
  deriveCardSessionKey,
  deriveOwnerPairingKeys,
  encodeScalar,
  fromHex,
  InvalidLengthError,
  toHex,
  wipeOwnerPairingKeys,
} from "../src/index.ts";
import { backends } from "./backends.ts";

// The vectors of docs/protocol.md §1.4–1.5, cross-checked with an independent Python HKDF and P-256.
describe.each(backends)("session key derivation vectors ($name back-end)", (crypto) => {
  it("owner pairing: Kenc ‖ Kmac ‖ Krmac from RFC 9383's K_shared", () => {
    const keys = deriveOwnerPairingKeys(
      crypto,
      "rfc9383",
      fromHex("0c5f8ccd1413423a54f6c1fb26ff01534a87f893779c6e68666d772bfd91f3e7"),
    );
    expect(toHex(keys.kenc)).toBe("5fbe580eddd6bc5401671d42f6074ab4ce5d0223a0b64de64da89f45d8f519a4");
    expect(toHex(keys.kmac)).toBe("a7ca1fb325d50b92438ed4d59f23afb9070fd6dbf6e5f95cac1294ccab6f4d9b");
    expect(toHex(keys.krmac)).toBe("918f3216133dd4335795fc89474c16d7d28f401d866a8993d371c8049ec7ba46");
    expect(keys.longTermSharedSecret).toBeUndefined();
    wipeOwnerPairingKeys(keys);
    expect(keys.kenc.every((b) => b === 0)).toBe(true);
  });

  it("Active Card: session key from ephemeral scalars 0x1111 (phone) and 0x2222 (card)", () => {
    const phone = encodeScalar(0x1111n);
    const card = encodeScalar(0x2222n);
    const phoneEphemeralPublicKey = crypto.publicKeyOf(phone);
    const cardEphemeralPublicKey = crypto.publicKeyOf(card);
    const sharedSecret = crypto.ecdh(phone, cardEphemeralPublicKey);
    expect(toHex(sharedSecret)).toBe("19cfbcaa5b6f16b6d0d45634acd7aaa05b764a17e520771158a8db8688ba1f87");
    expect(toHex(crypto.ecdh(card, phoneEphemeralPublicKey))).toBe(toHex(sharedSecret));
    const key = deriveCardSessionKey(crypto, {
      sharedSecret,
      sessionId: fromHex("000102030405060708090a0b0c0d0e0f"),
      phoneEphemeralPublicKey,
      cardEphemeralPublicKey,
    });
    expect(toHex(key)).toBe("faa48b7490891c055d20635ee0e34116ee20b20970d4fc6c3ccf3d6826a1fa2d");
  });

  it("refuses inputs of the wrong size", () => {
    expect(() => deriveOwnerPairingKeys(crypto, "rfc9383", new Uint8Array(16))).toThrow(InvalidLengthError);
    expect(() => deriveOwnerPairingKeys(crypto, "ccc", new Uint8Array(32))).toThrow(InvalidLengthError);
    const pub = crypto.generateKeyPair().publicKey;
    expect(() =>
      deriveCardSessionKey(crypto, {
        sharedSecret: new Uint8Array(32),
        sessionId: new Uint8Array(8),
        phoneEphemeralPublicKey: pub,
        cardEphemeralPublicKey: pub,
      }),
    ).toThrow(InvalidLengthError);
  });
});
