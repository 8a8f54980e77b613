import { decodeBase64, encodeBase64 } from "../base64.ts";
import { decodePoint } from "../crypto/p256.ts";
import { QrCodeError } from "./errors.ts";

/** The seed's QR code JSON (seed 002 §1.2), with the key decoded. */
export interface CardQrPayload {
  /** The card's identity public key, SEC1 uncompressed P-256 (65 bytes). */
  readonly identityPublicKey: Uint8Array;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly ownerUser: string;
  readonly firmwareVersion: string;
  /** Seconds since the Unix epoch when the card rendered the code. */
  readonly timestamp: number;
}

/**
 * Timestamp policy (docs §4.1): a code is usable while it is at most 10 minutes old and at
 * most 60 s ahead of the phone's clock. The card re-renders its code with a fresh timestamp
 * at least every 5 minutes while it shows it, so a photo of an old code goes stale.
 */
export const QR_MAX_AGE_SECONDS = 600;
export const QR_MAX_FUTURE_SKEW_SECONDS = 60;
/** The card refreshes the timestamp of a displayed code this often. */
export const QR_REFRESH_SECONDS = 300;
const MAX_QR_TEXT_LENGTH = 1024;

const TEXT_FIELDS = {
  deviceId: { min: 1, max: 64 },
  deviceName: { min: 0, max: 64 },
  ownerUser: { min: 0, max: 254 },
  firmwareVersion: { min: 1, max: 32 },
} as const;

/** The JSON text of the code, keys in the seed's order. */
export function formatQrPayload(payload: CardQrPayload): string {
  return JSON.stringify({
    identityPublicKey: encodeBase64(payload.identityPublicKey),
    deviceId: payload.deviceId,
    deviceName: payload.deviceName,
    ownerUser: payload.ownerUser,
    firmwareVersion: payload.firmwareVersion,
    timestamp: payload.timestamp,
  });
}

/**
 * Parses and checks a scanned code: the seed's six fields with the right types and bounds
 * (unknown extra keys are ignored, for newer cards), a valid P-256 identity key, and a
 * timestamp inside the policy window around `nowMs`.
 */
export function parseQrPayload(text: string, nowMs: number): CardQrPayload {
  const malformed = (why: string) => new QrCodeError("QR_MALFORMED", `QR payload: ${why}`);
  if (text.length > MAX_QR_TEXT_LENGTH) throw malformed("too long");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw malformed("not JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw malformed("not a JSON object");
  const record = json as Record<string, unknown>;
  const strings = {} as Record<keyof typeof TEXT_FIELDS, string>;
  for (const [name, { min, max }] of Object.entries(TEXT_FIELDS)) {
    const value = record[name];
    if (typeof value !== "string" || value.length < min || value.length > max) {
      throw malformed(`${name} must be a string of ${min}–${max} characters`);
    }
    strings[name as keyof typeof TEXT_FIELDS] = value;
  }
  const { timestamp, identityPublicKey } = record;
  if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw malformed("timestamp must be a non-negative integer (seconds)");
  }
  if (typeof identityPublicKey !== "string") throw malformed("identityPublicKey must be a string");
  let key: Uint8Array;
  try {
    key = decodeBase64(identityPublicKey, "identityPublicKey");
  } catch (cause) {
    throw new QrCodeError("QR_MALFORMED", "QR payload: identityPublicKey is not canonical base64", { cause });
  }
  try {
    decodePoint(key, "identityPublicKey");
  } catch (cause) {
    throw new QrCodeError("QR_MALFORMED", "QR payload: identityPublicKey is not a P-256 public key", {
      cause,
    });
  }
  checkQrTimestamp(timestamp, nowMs);
  return { ...strings, identityPublicKey: key, timestamp };
}

/** Applies the timestamp policy; QR_STALE outside the window. */
export function checkQrTimestamp(timestamp: number, nowMs: number): void {
  const nowSeconds = Math.floor(nowMs / 1000);
  if (timestamp < nowSeconds - QR_MAX_AGE_SECONDS) {
    throw new QrCodeError(
      "QR_STALE",
      `QR code is ${nowSeconds - timestamp} s old (limit ${QR_MAX_AGE_SECONDS} s)`,
    );
  }
  if (timestamp > nowSeconds + QR_MAX_FUTURE_SKEW_SECONDS) {
    throw new QrCodeError("QR_STALE", `QR code is ${timestamp - nowSeconds} s in the future`);
  }
}
