import { InvalidLengthError } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { matchesFilters } from "../../src/gatt/advertisement.ts";
import { DeviceKind, pairkitManufacturerData, pairkitScanFilter } from "../../src/gatt/advertising-data.ts";
import {
  ACTIVE_CARD_MESSAGE_CHARACTERISTIC,
  ACTIVE_CARD_SERVICE,
  CCCD_UUID,
  canonicalUuid,
  compactUuid,
  InvalidUuidError,
  OWNER_CHALLENGE_CHARACTERISTIC,
  OWNER_COMMAND_CHARACTERISTIC,
  OWNER_PAIRING_SERVICE,
  OWNER_STATUS_CHARACTERISTIC,
} from "../../src/gatt/uuids.ts";

describe("pairkit GATT UUIDs", () => {
  it("are the values docs/protocol.md §2.1 lists", () => {
    expect([
      OWNER_PAIRING_SERVICE,
      OWNER_COMMAND_CHARACTERISTIC,
      OWNER_CHALLENGE_CHARACTERISTIC,
      OWNER_STATUS_CHARACTERISTIC,
      ACTIVE_CARD_SERVICE,
      ACTIVE_CARD_MESSAGE_CHARACTERISTIC,
      CCCD_UUID,
    ]).toEqual([
      "0000ccc1-7b3e-4d8a-9f61-5c0a2e94d1b7",
      "0001ccc1-7b3e-4d8a-9f61-5c0a2e94d1b7",
      "0002ccc1-7b3e-4d8a-9f61-5c0a2e94d1b7",
      "0003ccc1-7b3e-4d8a-9f61-5c0a2e94d1b7",
      "0000ac01-7b3e-4d8a-9f61-5c0a2e94d1b7",
      "0001ac01-7b3e-4d8a-9f61-5c0a2e94d1b7",
      "00002902-0000-1000-8000-00805f9b34fb",
    ]);
  });

  it("canonicalises the platforms' forms and rejects anything else", () => {
    expect(canonicalUuid("0001CCC17B3E4D8A9F615C0A2E94D1B7")).toBe(OWNER_COMMAND_CHARACTERISTIC);
    expect(canonicalUuid("2902")).toBe(CCCD_UUID);
    expect(compactUuid(OWNER_PAIRING_SERVICE)).toBe("0000ccc17b3e4d8a9f615c0a2e94d1b7");
    for (const bad of [
      "",
      "ccc",
      "0000ccc1-7b3e-4d8a-9f61-5c0a2e94d1b",
      "g000ccc17b3e4d8a9f615c0a2e94d1b7",
      "12345",
    ]) {
      expect(() => canonicalUuid(bad)).toThrow(InvalidUuidError);
    }
  });
});

describe("pairkit advertising data", () => {
  it("is version ‖ kind ‖ hint and the scan filter matches exactly its kind and hint", () => {
    const md = pairkitManufacturerData(DeviceKind.VEHICLE, Uint8Array.of(0xab, 0xcd));
    expect(md).toEqual({ companyId: 0xffff, data: Uint8Array.of(1, 1, 0xab, 0xcd) });
    const vehicle = { serviceUuids: [OWNER_PAIRING_SERVICE], manufacturerData: md };
    expect(matchesFilters(vehicle, [pairkitScanFilter(DeviceKind.VEHICLE)])).toBe(true);
    expect(matchesFilters(vehicle, [pairkitScanFilter(DeviceKind.VEHICLE, Uint8Array.of(0xab))])).toBe(true);
    expect(matchesFilters(vehicle, [pairkitScanFilter(DeviceKind.VEHICLE, Uint8Array.of(0xac))])).toBe(false);
    expect(matchesFilters(vehicle, [pairkitScanFilter(DeviceKind.ACTIVE_CARD)])).toBe(false);
    expect(() => pairkitManufacturerData(DeviceKind.VEHICLE, new Uint8Array(5))).toThrow(InvalidLengthError);
  });
});
