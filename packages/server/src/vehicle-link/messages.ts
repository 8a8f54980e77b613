import { PairkitError } from "@pairkit/core";
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import "./formats.ts";

/**
 * Topics and JSON payloads of the vehicle link (docs/vehicle-link.md is the normative text).
 * Each vehicle owns the prefix `vehicles/<vehicleId>/`: it subscribes under `down/` and publishes
 * under `up/`; the broker's ACL allows nothing else.
 */
export const TOPIC_ROOT = "vehicles";
export const VEHICLE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Largest payload either side accepts; every message here is well under 1 KiB. */
export const MAX_PAYLOAD_BYTES = 4096;

export const topics = {
  provision: (vehicleId: string) => `${TOPIC_ROOT}/${vehicleId}/down/provision`,
  revoke: (vehicleId: string) => `${TOPIC_ROOT}/${vehicleId}/down/revoke`,
  ack: (vehicleId: string) => `${TOPIC_ROOT}/${vehicleId}/up/ack`,
  event: (vehicleId: string) => `${TOPIC_ROOT}/${vehicleId}/up/event`,
  status: (vehicleId: string) => `${TOPIC_ROOT}/${vehicleId}/up/status`,
  /** What a vehicle subscribes to. */
  vehicleDown: (vehicleId: string) => `${TOPIC_ROOT}/${vehicleId}/down/#`,
  /** What the server subscribes to. */
  allUp: `${TOPIC_ROOT}/+/up/#`,
} as const;

export type UpKind = "ack" | "event" | "status";

/** Splits `vehicles/<id>/up/<kind>`; undefined for anything else. */
export function parseUpTopic(topic: string): { vehicleId: string; kind: UpKind } | undefined {
  const parts = topic.split("/");
  if (parts.length !== 4 || parts[0] !== TOPIC_ROOT || parts[2] !== "up") return undefined;
  const [, vehicleId, , kind] = parts as [string, string, string, string];
  if (!VEHICLE_ID_PATTERN.test(vehicleId)) return undefined;
  if (kind !== "ack" && kind !== "event" && kind !== "status") return undefined;
  return { vehicleId, kind };
}

const Uuid = Type.String({ format: "uuid" });
const Base64 = (bytes: number) =>
  Type.String({
    pattern: "^[A-Za-z0-9+/]*={0,2}$",
    minLength: 4 * Math.ceil(bytes / 3),
    maxLength: 4 * Math.ceil(bytes / 3),
  });
const Hex = (bytes: number) => Type.String({ pattern: `^[0-9a-f]{${2 * bytes}}$` });
const Timestamp = Type.String({ format: "date-time", maxLength: 40 });

/** server → vehicle: store this verifier, replacing any earlier one. */
export const ProvisionMessage = Type.Object(
  {
    deliveryId: Uuid,
    sessionId: Uuid,
    /** Increases with every verifier for this vehicle; a vehicle refuses one not above the last it stored. */
    seq: Type.Integer({ minimum: 1 }),
    salt: Base64(16),
    scrypt: Type.Object(
      { N: Type.Integer({ minimum: 2 }), r: Type.Integer({ minimum: 1 }), p: Type.Integer({ minimum: 1 }) },
      { additionalProperties: false },
    ),
    /** w0 as a 32-byte big-endian scalar. */
    w0: Base64(32),
    /** L = w1·G, SEC1 uncompressed. */
    L: Base64(65),
    expiresAt: Timestamp,
    maxAttempts: Type.Integer({ minimum: 1, maximum: 255 }),
  },
  { additionalProperties: false },
);
export type ProvisionMessage = Static<typeof ProvisionMessage>;

/** server → vehicle: forget this endpoint key. */
export const RevokeMessage = Type.Object(
  { deliveryId: Uuid, keyId: Uuid, endpointIdHash: Hex(16) },
  { additionalProperties: false },
);
export type RevokeMessage = Static<typeof RevokeMessage>;

/** vehicle → server: the answer to one provision or revoke. */
export const AckMessage = Type.Object(
  {
    deliveryId: Uuid,
    status: Type.Union([Type.Literal("ok"), Type.Literal("rejected")]),
    reason: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type AckMessage = Static<typeof AckMessage>;

/** vehicle → server: something happened on the vehicle. The vehicle is authoritative for attempts. */
export const EventMessage = Type.Union([
  Type.Object(
    {
      type: Type.Literal("attempt_failed"),
      eventId: Uuid,
      sessionId: Uuid,
      remainingAttempts: Type.Integer({ minimum: 0, maximum: 255 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal("locked"), eventId: Uuid, sessionId: Uuid },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal("paired"), eventId: Uuid, sessionId: Uuid, endpointIdHash: Hex(16) },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal("endpoint_revoked"), eventId: Uuid, keyId: Uuid, endpointIdHash: Hex(16) },
    { additionalProperties: false },
  ),
]);
export type EventMessage = Static<typeof EventMessage>;

/** vehicle → server, retained, also the vehicle's last will. */
export const StatusMessage = Type.Object({ online: Type.Boolean() }, { additionalProperties: false });
export type StatusMessage = Static<typeof StatusMessage>;

/** A payload on the vehicle link is not what its topic requires. */
export class LinkMessageError extends PairkitError {
  constructor(message: string) {
    super("INVALID_LINK_MESSAGE", message);
  }
}

export function encodeMessage<S extends TSchema>(schema: S, message: Static<S>): Buffer {
  if (!Value.Check(schema, message)) throw new LinkMessageError("refusing to send a malformed message");
  return Buffer.from(JSON.stringify(message));
}

export function decodeMessage<S extends TSchema>(schema: S, payload: Uint8Array): Static<S> {
  if (payload.length > MAX_PAYLOAD_BYTES) throw new LinkMessageError("payload too large");
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload).toString("utf8"));
  } catch {
    throw new LinkMessageError("payload is not JSON");
  }
  if (!Value.Check(schema, value)) throw new LinkMessageError("payload does not match its schema");
  return value;
}
