import { InvalidLengthError } from "@pairkit/core";
import type { ManufacturerData, ScanFilter } from "./types.ts";
import { ACTIVE_CARD_SERVICE, OWNER_PAIRING_SERVICE } from "./uuids.ts";

/**
 * pairkit's manufacturer-specific advertising data (docs/protocol.md §2.1). 0xFFFF is the company
 * identifier the Bluetooth SIG reserves for testing; a production deployment sets its own
 * SIG-assigned identifier. The payload is kept to 6 bytes so that flags, one 128-bit service UUID
 * and the manufacturer data fit the 31-byte legacy advertising PDU.
 */
export const PAIRKIT_TEST_COMPANY_ID = 0xffff;
export const PAIRKIT_ADVERTISING_VERSION = 0x01;

export const DeviceKind = { VEHICLE: 0x01, ACTIVE_CARD: 0x02 } as const;
export type DeviceKind = (typeof DeviceKind)[keyof typeof DeviceKind];

/** `version ‖ kind ‖ hint` where `hint` (0–4 bytes) lets an app pick its device among several. */
export function pairkitManufacturerData(
  kind: DeviceKind,
  hint: Uint8Array = new Uint8Array(0),
  companyId: number = PAIRKIT_TEST_COMPANY_ID,
): ManufacturerData {
  if (hint.length > 4) throw new InvalidLengthError("advertising hint", "0 to 4", hint.length);
  const data = new Uint8Array(2 + hint.length);
  data[0] = PAIRKIT_ADVERTISING_VERSION;
  data[1] = kind;
  data.set(hint, 2);
  return { companyId, data };
}

/** The scan filter an app uses to find devices of `kind`: their service and manufacturer data prefix. */
export function pairkitScanFilter(
  kind: DeviceKind,
  hint: Uint8Array = new Uint8Array(0),
  companyId: number = PAIRKIT_TEST_COMPANY_ID,
): ScanFilter {
  return {
    services: [kind === DeviceKind.VEHICLE ? OWNER_PAIRING_SERVICE : ACTIVE_CARD_SERVICE],
    manufacturerData: { companyId, dataPrefix: pairkitManufacturerData(kind, hint, companyId).data },
  };
}
