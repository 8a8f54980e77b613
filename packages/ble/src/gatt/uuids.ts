import { PairkitError } from "@pairkit/core";

/**
 * GATT UUIDs of pairkit (docs/protocol.md §2.1). Every pairkit UUID is the 128-bit base
 * `xxxxxxxx-7b3e-4d8a-9f61-5c0a2e94d1b7` with its first 32 bits set to
 * `(characteristic index << 16) | service alias`: the service itself has index 0. The base is a
 * random (version 4) UUID, not the Bluetooth SIG base, because `0xCCC1` and `0xAC01` are not
 * SIG-assigned 16-bit UUIDs and must not be advertised as such.
 */
export const PAIRKIT_UUID_BASE_SUFFIX = "-7b3e-4d8a-9f61-5c0a2e94d1b7";

/** Expands a pairkit 16-bit service alias and characteristic index into its 128-bit UUID. */
export function pairkitUuid(serviceAlias: number, characteristicIndex = 0): string {
  if (!isUint16(serviceAlias) || !isUint16(characteristicIndex)) {
    throw new InvalidUuidError(`pairkit alias ${serviceAlias}/${characteristicIndex}`);
  }
  const head = ((characteristicIndex << 16) | serviceAlias) >>> 0;
  return head.toString(16).padStart(8, "0") + PAIRKIT_UUID_BASE_SUFFIX;
}

/** Owner pairing (seed 001 §2): service alias 0xCCC1. */
export const OWNER_PAIRING_SERVICE = pairkitUuid(0xccc1);
/** Command/response: frames central → vehicle by write with response, vehicle → central by notification. */
export const OWNER_COMMAND_CHARACTERISTIC = pairkitUuid(0xccc1, 0x0001);
/** Pairing challenge (notify, optional): seed 001 allows falling back to the command characteristic, which pairkit does. */
export const OWNER_CHALLENGE_CHARACTERISTIC = pairkitUuid(0xccc1, 0x0002);
/** Result/status (notify): a one-frame summary of the pairing outcome for observers. */
export const OWNER_STATUS_CHARACTERISTIC = pairkitUuid(0xccc1, 0x0003);

/** Active Card (seed 002): service alias 0xAC01, one message characteristic (write with response + notify). */
export const ACTIVE_CARD_SERVICE = pairkitUuid(0xac01);
export const ACTIVE_CARD_MESSAGE_CHARACTERISTIC = pairkitUuid(0xac01, 0x0001);

/** Client Characteristic Configuration Descriptor (SIG-assigned 0x2902). */
export const CCCD_UUID = sigUuid(0x2902);

/** The SIG base UUID expansion of a SIG-assigned 16-bit UUID. */
export function sigUuid(alias: number): string {
  if (!isUint16(alias)) throw new InvalidUuidError(`SIG alias ${alias}`);
  return `0000${alias.toString(16).padStart(4, "0")}-0000-1000-8000-00805f9b34fb`;
}

const DASHED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PLAIN = /^[0-9a-f]{32}$/;
const SHORT = /^[0-9a-f]{4}$/;

/**
 * The canonical form every pairkit interface uses: lowercase, dashed, 128 bits. Accepts the
 * forms the platforms use: dashed (Web Bluetooth), 32 hex digits (noble, bleno) and 4 hex digits
 * for SIG-assigned UUIDs.
 */
export function canonicalUuid(uuid: string): string {
  const lower = uuid.toLowerCase();
  if (DASHED.test(lower)) return lower;
  if (PLAIN.test(lower)) {
    return `${lower.slice(0, 8)}-${lower.slice(8, 12)}-${lower.slice(12, 16)}-${lower.slice(16, 20)}-${lower.slice(20)}`;
  }
  if (SHORT.test(lower)) return sigUuid(Number.parseInt(lower, 16));
  throw new InvalidUuidError(uuid);
}

/** The 32-hex-digit form noble and bleno use for 128-bit UUIDs. */
export function compactUuid(uuid: string): string {
  return canonicalUuid(uuid).replaceAll("-", "");
}

export class InvalidUuidError extends PairkitError {
  constructor(what: string) {
    super("INVALID_UUID", `not a UUID: ${JSON.stringify(what).slice(0, 60)}`);
  }
}

function isUint16(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff;
}
