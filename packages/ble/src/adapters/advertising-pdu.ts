import { concatBytes } from "@pairkit/core";
import { GattError } from "../gatt/errors.ts";
import type { AdvertisementData } from "../gatt/types.ts";
import { canonicalUuid } from "../gatt/uuids.ts";

/** Legacy advertising and scan response payloads carry at most 31 bytes each (Core Vol 3 Part C 11). */
export const LEGACY_ADVERTISING_MAX = 31;

const SIG_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb";

/**
 * Encodes advertising data as the AD structures of an advertising PDU and a scan response
 * (Core Supplement Part A 1): the PDU carries Flags (LE General Discoverable, BR/EDR not
 * supported), the service UUIDs (16-bit for SIG UUIDs, else 128-bit, little-endian) and the
 * manufacturer data (company id little-endian); the scan response carries the local name,
 * shortened if it does not fit. Throws a `GattError` ADVERTISEMENT_TOO_LONG when the PDU overflows.
 */
export function encodeAdvertisingPdus(data: AdvertisementData): {
  advertising: Uint8Array;
  scanResponse: Uint8Array;
} {
  const structures: Uint8Array[] = [adStructure(0x01, Uint8Array.of(0x06))];
  const uuids = data.serviceUuids.map(canonicalUuid);
  const short = uuids.filter((u) => u.startsWith("0000") && u.endsWith(SIG_BASE_SUFFIX));
  const long = uuids.filter((u) => !short.includes(u));
  if (short.length > 0) {
    structures.push(adStructure(0x03, concatBytes(...short.map((u) => littleEndianHex(u.slice(4, 8))))));
  }
  if (long.length > 0) {
    structures.push(
      adStructure(0x07, concatBytes(...long.map((u) => littleEndianHex(u.replaceAll("-", ""))))),
    );
  }
  if (data.manufacturerData) {
    const { companyId, data: payload } = data.manufacturerData;
    structures.push(adStructure(0xff, concatBytes(Uint8Array.of(companyId & 0xff, companyId >> 8), payload)));
  }
  const advertising = concatBytes(...structures);
  if (advertising.length > LEGACY_ADVERTISING_MAX) {
    throw new GattError(
      "ADVERTISEMENT_TOO_LONG",
      `advertising data needs ${advertising.length} bytes, a legacy PDU holds ${LEGACY_ADVERTISING_MAX}`,
    );
  }
  let scanResponse: Uint8Array = new Uint8Array(0);
  if (data.localName !== undefined) {
    const name = new TextEncoder().encode(data.localName);
    const room = LEGACY_ADVERTISING_MAX - 2;
    scanResponse =
      name.length <= room ? adStructure(0x09, name) : adStructure(0x08, truncateUtf8(name, room));
  }
  return { advertising, scanResponse };
}

function adStructure(type: number, value: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(value.length + 1, type), value);
}

function littleEndianHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++)
    out[out.length - 1 - i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Cuts at a character boundary so the shortened name stays valid UTF-8. */
function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  let end = max;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
