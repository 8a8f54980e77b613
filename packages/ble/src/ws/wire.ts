import { decodeBase64, encodeBase64, PairkitError } from "@pairkit/core";
import type {
  AdvertisementData,
  CharacteristicProperty,
  ScanFilter,
  ServiceDefinition,
  ServiceInfo,
} from "../gatt/types.ts";
import { canonicalUuid } from "../gatt/uuids.ts";

/**
 * The WebSocket radio's wire format (docs/radio.md): one JSON object per text message, `kind`
 * names it, byte strings are standard base64 with padding, UUIDs are canonical 128-bit strings.
 * This module is the only place that builds or reads those objects.
 */
export const RADIO_PROTOCOL_VERSION = 1;

/** A message that breaks docs/radio.md; the peer answers with an `error` (code BAD_REQUEST). */
export class RadioProtocolError extends PairkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BAD_REQUEST", message, options);
  }
}

export type WireObject = Record<string, unknown>;

export function decodeMessage(text: string): WireFields {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RadioProtocolError("not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new RadioProtocolError("not a JSON object");
  }
  return new WireFields(parsed as WireObject);
}

export function encodeMessage(kind: string, fields: WireObject): string {
  return JSON.stringify({ kind, ...fields });
}

/** Typed reads of one message's fields, each rejecting a missing or mistyped field by name. */
export class WireFields {
  constructor(readonly raw: WireObject) {}

  get kind(): string {
    return this.string("kind");
  }

  has(name: string): boolean {
    return this.raw[name] !== undefined && this.raw[name] !== null;
  }

  string(name: string): string {
    const v = this.raw[name];
    if (typeof v !== "string") throw new RadioProtocolError(`field ${name}: expected a string`);
    return v;
  }

  optionalString(name: string): string | undefined {
    return this.has(name) ? this.string(name) : undefined;
  }

  uint(name: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
      throw new RadioProtocolError(`field ${name}: expected an integer in [0, ${max}]`);
    }
    return v;
  }

  optionalUint(name: string, max?: number): number | undefined {
    return this.has(name) ? this.uint(name, max) : undefined;
  }

  bool(name: string): boolean {
    const v = this.raw[name];
    if (typeof v !== "boolean") throw new RadioProtocolError(`field ${name}: expected a boolean`);
    return v;
  }

  uuid(name: string): string {
    try {
      return canonicalUuid(this.string(name));
    } catch (error) {
      if (error instanceof RadioProtocolError) throw error;
      throw new RadioProtocolError(`field ${name}: not a UUID`);
    }
  }

  bytes(name: string): Uint8Array {
    try {
      return decodeBase64(this.string(name), name);
    } catch (cause) {
      throw new RadioProtocolError(`field ${name}: not padded standard base64`, { cause });
    }
  }

  object(name: string): WireFields {
    const v = this.raw[name];
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new RadioProtocolError(`field ${name}: expected an object`);
    }
    return new WireFields(v as WireObject);
  }

  list(name: string): WireFields[] {
    const v = this.raw[name];
    if (!Array.isArray(v)) throw new RadioProtocolError(`field ${name}: expected an array`);
    return v.map((item, i) => {
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        throw new RadioProtocolError(`field ${name}[${i}]: expected an object`);
      }
      return new WireFields(item as WireObject);
    });
  }

  uuidList(name: string): string[] {
    const v = this.raw[name];
    if (!Array.isArray(v)) throw new RadioProtocolError(`field ${name}: expected an array`);
    return v.map((_, i) => new WireFields({ u: v[i] }).uuid("u"));
  }
}

const PROPERTIES: readonly CharacteristicProperty[] = ["read", "write", "notify"];

export function encodeAdvertisement(data: AdvertisementData): WireObject {
  return {
    serviceUuids: data.serviceUuids.map(canonicalUuid),
    ...(data.localName !== undefined && { localName: data.localName }),
    ...(data.manufacturerData && {
      manufacturerData: {
        companyId: data.manufacturerData.companyId,
        data: encodeBase64(data.manufacturerData.data),
      },
    }),
  };
}

export function decodeAdvertisement(fields: WireFields): AdvertisementData {
  const md = fields.has("manufacturerData") ? fields.object("manufacturerData") : undefined;
  return {
    serviceUuids: fields.uuidList("serviceUuids"),
    ...(fields.has("localName") && { localName: fields.string("localName") }),
    ...(md && { manufacturerData: { companyId: md.uint("companyId", 0xffff), data: md.bytes("data") } }),
  };
}

export function encodeFilters(filters: readonly ScanFilter[]): WireObject[] {
  return filters.map((f) => ({
    ...(f.services && { services: f.services.map(canonicalUuid) }),
    ...(f.namePrefix !== undefined && { namePrefix: f.namePrefix }),
    ...(f.manufacturerData && {
      manufacturerData: {
        companyId: f.manufacturerData.companyId,
        ...(f.manufacturerData.dataPrefix && { dataPrefix: encodeBase64(f.manufacturerData.dataPrefix) }),
      },
    }),
  }));
}

export function decodeFilters(list: WireFields[]): ScanFilter[] {
  return list.map((f) => {
    const md = f.has("manufacturerData") ? f.object("manufacturerData") : undefined;
    return {
      ...(f.has("services") && { services: f.uuidList("services") }),
      ...(f.has("namePrefix") && { namePrefix: f.string("namePrefix") }),
      ...(md && {
        manufacturerData: {
          companyId: md.uint("companyId", 0xffff),
          ...(md.has("dataPrefix") && { dataPrefix: md.bytes("dataPrefix") }),
        },
      }),
    };
  });
}

export function encodeServices(services: readonly (ServiceDefinition | ServiceInfo)[]): WireObject[] {
  return services.map((s) => ({
    uuid: canonicalUuid(s.uuid),
    characteristics: s.characteristics.map((c) => ({
      uuid: canonicalUuid(c.uuid),
      properties: [...c.properties],
    })),
  }));
}

export function decodeServices(list: WireFields[]): ServiceDefinition[] {
  return list.map((s) => ({
    uuid: s.uuid("uuid"),
    characteristics: s.list("characteristics").map((c) => {
      const raw = c.raw.properties;
      if (!Array.isArray(raw) || !raw.every((p) => PROPERTIES.includes(p as CharacteristicProperty))) {
        throw new RadioProtocolError(`field properties: expected a subset of ${PROPERTIES.join(", ")}`);
      }
      return { uuid: c.uuid("uuid"), properties: raw as CharacteristicProperty[] };
    }),
  }));
}
