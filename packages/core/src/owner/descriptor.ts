import { Encoder } from "cbor-x";
import { constantTimeEqual } from "../bytes.ts";
import { MessageFormatError } from "./wire.ts";

/**
 * DEVICE_CONFIG.descriptor: a CBOR map (RFC 8949) describing the vehicle, and the vehicle's
 * certificate chain (leaf first, up to but excluding the carmaker root the phone trusts).
 * The chain travels here, inside the Kmac-authenticated config, so the phone learns the
 * vehicle's identity key from the same authenticated message that pairs it.
 */
export interface VehicleDescriptor {
  readonly model: string;
  readonly trim?: string;
  readonly modelYear?: number;
  readonly certificateChain: readonly Uint8Array[];
}

export const DESCRIPTOR_VERSION = 1;
export const MAX_DESCRIPTOR_LENGTH = 8192;
const MAX_CHAIN_LENGTH = 4;
const MAX_CERTIFICATE_LENGTH = 2048;
const MAX_TEXT_LENGTH = 64;
/** docs/protocol.md §3.5: the only keys, in the only order they may appear. */
const KEY_ORDER = ["v", "model", "trim", "year", "certChain"] as const;
const KEYS = new Set<string>(KEY_ORDER);

// Plain maps with text keys, byte strings untagged: what any CBOR library in any language reads.
const cbor = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  variableMapSize: true,
});

export function encodeDescriptor(d: VehicleDescriptor): Uint8Array {
  const map: Record<string, unknown> = { v: DESCRIPTOR_VERSION, model: d.model };
  if (d.trim !== undefined) map.trim = d.trim;
  if (d.modelYear !== undefined) map.year = d.modelYear;
  map.certChain = d.certificateChain.map((c) => Uint8Array.from(c));
  const bytes = new Uint8Array(cbor.encode(map));
  checkDescriptor(decodeValue(bytes));
  return bytes;
}

export function decodeDescriptor(bytes: Uint8Array): VehicleDescriptor {
  return checkDescriptor(decodeValue(bytes));
}

function fail(reason: string): never {
  throw new MessageFormatError("descriptor", reason);
}

function decodeValue(bytes: Uint8Array): unknown {
  if (bytes.length === 0 || bytes.length > MAX_DESCRIPTOR_LENGTH) fail("length out of range");
  let value: unknown;
  try {
    value = cbor.decode(bytes);
  } catch {
    fail("not well-formed CBOR");
  }
  // Duplicate keys, indefinite lengths and non-minimal integers do not survive re-encoding.
  if (!constantTimeEqual(new Uint8Array(cbor.encode(value)), bytes)) fail("not in deterministic encoding");
  return value;
}

function text(value: unknown, field: string, optional: boolean): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_TEXT_LENGTH)
    fail(`${field} must be text of 1–${MAX_TEXT_LENGTH} characters`);
  return value;
}

function checkDescriptor(value: unknown): VehicleDescriptor {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array)
    fail("must be a map");
  const map = value as Record<string, unknown>;
  const keys = Object.keys(map);
  for (const key of keys) if (!KEYS.has(key)) fail(`unknown key "${key.slice(0, 16)}"`);
  // Re-encoding keeps the received order, so it cannot catch this; the order is part of the
  // deterministic encoding every implementation must produce. (No known key is integer-like,
  // so Object.keys returns them in the order they were decoded.)
  const expected = KEY_ORDER.filter((key) => key in map);
  if (keys.some((key, i) => key !== expected[i]))
    fail(`keys must appear in the order ${KEY_ORDER.join(", ")}`);
  if (map.v !== DESCRIPTOR_VERSION) fail(`v must be ${DESCRIPTOR_VERSION}`);
  const model = text(map.model, "model", false)!;
  const trim = text(map.trim, "trim", true);
  const year = map.year;
  if (year !== undefined && (!Number.isInteger(year) || (year as number) < 1900 || (year as number) > 9999))
    fail("year must be an integer in 1900–9999");
  const chain = map.certChain;
  if (!Array.isArray(chain) || chain.length < 1 || chain.length > MAX_CHAIN_LENGTH)
    fail(`certChain must hold 1–${MAX_CHAIN_LENGTH} certificates`);
  const certificateChain = chain.map((c) => {
    if (!(c instanceof Uint8Array) || c.length === 0 || c.length > MAX_CERTIFICATE_LENGTH)
      fail(`certChain entries must be byte strings of 1–${MAX_CERTIFICATE_LENGTH} bytes`);
    return Uint8Array.from(c);
  });
  return {
    model,
    ...(trim === undefined ? {} : { trim }),
    ...(year === undefined ? {} : { modelYear: year as number }),
    certificateChain,
  };
}
