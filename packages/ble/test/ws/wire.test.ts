import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AdvertisementData } from "../../src/gatt/types.ts";
import {
  decodeAdvertisement,
  decodeFilters,
  decodeMessage,
  encodeAdvertisement,
  encodeFilters,
  encodeMessage,
  RadioProtocolError,
  WireFields,
} from "../../src/ws/wire.ts";

const uuid = fc.uuid().map((u) => u.toLowerCase());
const bytes = fc.uint8Array({ maxLength: 40 });
const advertisement: fc.Arbitrary<AdvertisementData> = fc.record(
  {
    serviceUuids: fc.array(uuid, { maxLength: 3 }),
    localName: fc.string(),
    manufacturerData: fc.record({ companyId: fc.integer({ min: 0, max: 0xffff }), data: bytes }),
  },
  { requiredKeys: ["serviceUuids"] },
);

describe("WebSocket radio wire codec", () => {
  it("round-trips advertisement data and scan filters through JSON", () => {
    fc.assert(
      fc.property(advertisement, (data) => {
        const text = encodeMessage("advertisement", { data: encodeAdvertisement(data) });
        expect(decodeAdvertisement(decodeMessage(text).object("data"))).toEqual(data);
      }),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.record(
            {
              services: fc.array(uuid, { maxLength: 2 }),
              namePrefix: fc.string(),
              manufacturerData: fc.record(
                { companyId: fc.integer({ min: 0, max: 0xffff }), dataPrefix: bytes },
                { requiredKeys: ["companyId"] },
              ),
            },
            { requiredKeys: [] },
          ),
          { maxLength: 3 },
        ),
        (filters) => {
          const text = JSON.stringify({ filters: encodeFilters(filters) });
          expect(decodeFilters(new WireFields(JSON.parse(text)).list("filters"))).toEqual(filters);
        },
      ),
    );
  });

  it("rejects malformed fields by name with RadioProtocolError", () => {
    const bad = [
      "[]",
      "3",
      "{",
      '{"kind":1}',
      '{"kind":"x","data":{"serviceUuids":["nope"]}}',
      '{"kind":"x","data":{"serviceUuids":[],"manufacturerData":{"companyId":70000,"data":""}}}',
      '{"kind":"x","data":{"serviceUuids":[],"manufacturerData":{"companyId":1,"data":"YQ"}}}',
      '{"kind":"x","data":{"serviceUuids":[],"manufacturerData":{"companyId":1.5,"data":""}}}',
    ];
    for (const text of bad) {
      expect(() => {
        const m = decodeMessage(text);
        void m.kind;
        decodeAdvertisement(m.object("data"));
      }, text).toThrow(RadioProtocolError);
    }
  });
});
