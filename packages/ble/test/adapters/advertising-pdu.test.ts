import { toHex } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { encodeAdvertisingPdus } from "../../src/adapters/advertising-pdu.ts";
import { GattError } from "../../src/gatt/errors.ts";
import { ACTIVE_CARD_SERVICE, sigUuid } from "../../src/gatt/uuids.ts";

describe("advertising PDU encoding", () => {
  it("uses 16-bit UUIDs for SIG UUIDs, 128-bit little-endian otherwise, and a shortened name when long", () => {
    const { advertising, scanResponse } = encodeAdvertisingPdus({
      serviceUuids: [sigUuid(0x180f), ACTIVE_CARD_SERVICE],
      localName: "Ä".repeat(20),
    });
    expect(toHex(advertising)).toBe("020106" + "03030f18" + "1107b7d1942e0a5c619f8a4d3e7b01ac0000");
    // 29 bytes of room: 14 two-byte characters, never half of one.
    expect(scanResponse[0]).toBe(29);
    expect(scanResponse[1]).toBe(0x08);
    expect(new TextDecoder("utf-8", { fatal: true }).decode(scanResponse.subarray(2))).toBe("Ä".repeat(14));
  });

  it("refuses advertising data that does not fit a legacy PDU", () => {
    expect(() =>
      encodeAdvertisingPdus({
        serviceUuids: [ACTIVE_CARD_SERVICE],
        manufacturerData: { companyId: 0xffff, data: new Uint8Array(7) },
      }),
    ).toThrow(GattError);
  });
});
