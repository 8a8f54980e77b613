import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Base64Error,
  type CardQrPayload,
  decodeBase64,
  decodeQrFromRgba,
  encodeBase64,
  formatQrPayload,
  nobleCrypto,
  parseQrPayload,
  QR_MAX_AGE_SECONDS,
  QR_MAX_FUTURE_SKEW_SECONDS,
  QrCodeError,
} from "../../src/index.ts";

const now = 1_715_148_123_000;
const payload: CardQrPayload = {
  identityPublicKey: nobleCrypto.generateKeyPair().publicKey,
  deviceId: "DEVICE-UUID-1234",
  deviceName: "AC-Bob-Key",
  ownerUser: "bob@example.com",
  firmwareVersion: "1.0.3",
  timestamp: now / 1000,
};

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(QrCodeError);
    return (error as QrCodeError).code;
  }
  throw new Error("expected a QrCodeError");
}

describe("base64", () => {
  it("round-trips and matches Node's encoder", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64"));
        expect(decodeBase64(text, "x")).toEqual(bytes);
      }),
    );
  });

  it("rejects non-canonical text", () => {
    for (const bad of ["A", "AB=", "AB=C", "QR==x===", "QQ=", "QR==", "QUJ=", "-_==", "QU I=", "=AAA"]) {
      expect(() => decodeBase64(bad, "x")).toThrow(Base64Error);
    }
  });
});

describe("QR payload", () => {
  it("formats the seed's JSON and parses it back", () => {
    const text = formatQrPayload(payload);
    expect(Object.keys(JSON.parse(text))).toEqual([
      "identityPublicKey",
      "deviceId",
      "deviceName",
      "ownerUser",
      "firmwareVersion",
      "timestamp",
    ]);
    expect(parseQrPayload(text, now)).toEqual(payload);
  });

  it("ignores unknown keys from newer cards", () => {
    const text = JSON.stringify({ ...JSON.parse(formatQrPayload(payload)), batteryLevel: 80 });
    expect(parseQrPayload(text, now).deviceId).toBe(payload.deviceId);
  });

  it("rejects malformed payloads", () => {
    const base = JSON.parse(formatQrPayload(payload));
    const offCurve = payload.identityPublicKey.slice();
    offCurve[64]! ^= 1;
    const cases: unknown[] = [
      "not json",
      "[]",
      "null",
      { ...base, deviceId: "" },
      { ...base, deviceId: 7 },
      { ...base, deviceName: "x".repeat(65) },
      { ...base, firmwareVersion: undefined },
      { ...base, timestamp: "1715148123" },
      { ...base, timestamp: 1.5 },
      { ...base, identityPublicKey: "not base64!" },
      { ...base, identityPublicKey: encodeBase64(payload.identityPublicKey.subarray(0, 64)) },
      { ...base, identityPublicKey: encodeBase64(offCurve) },
      { ...base, deviceName: "x".repeat(2000) },
    ];
    for (const c of cases) {
      expect(code(() => parseQrPayload(typeof c === "string" ? c : JSON.stringify(c), now))).toBe(
        "QR_MALFORMED",
      );
    }
  });

  it("applies the timestamp window", () => {
    const at = (timestamp: number) => formatQrPayload({ ...payload, timestamp });
    const nowS = now / 1000;
    expect(parseQrPayload(at(nowS - QR_MAX_AGE_SECONDS), now).timestamp).toBe(nowS - QR_MAX_AGE_SECONDS);
    expect(parseQrPayload(at(nowS + QR_MAX_FUTURE_SKEW_SECONDS), now).timestamp).toBe(
      nowS + QR_MAX_FUTURE_SKEW_SECONDS,
    );
    expect(code(() => parseQrPayload(at(nowS - QR_MAX_AGE_SECONDS - 1), now))).toBe("QR_STALE");
    expect(code(() => parseQrPayload(at(nowS + QR_MAX_FUTURE_SKEW_SECONDS + 1), now))).toBe("QR_STALE");
  });

  it("never throws anything but a QrCodeError on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(code(() => parseQrPayload(text, now))).toMatch(/^QR_/);
      }),
    );
  });
});

describe("QR image decoding", () => {
  it("reports a blank image and inconsistent dimensions", () => {
    expect(code(() => decodeQrFromRgba(new Uint8Array(40 * 40 * 4).fill(255), 40, 40))).toBe("QR_NOT_FOUND");
    expect(code(() => decodeQrFromRgba(new Uint8Array(10), 40, 40))).toBe("QR_IMAGE_INVALID");
    expect(code(() => decodeQrFromRgba(new Uint8Array(0), 0, 0))).toBe("QR_IMAGE_INVALID");
  });
});
