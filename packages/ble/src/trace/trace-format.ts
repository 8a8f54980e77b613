import { PairkitError } from "@pairkit/core";
import { FRAME_HEADER_SIZE, type FrameHeader } from "../framing/frame-header.ts";

/**
 * A frame trace (docs/trace.md): what a phone's radio saw on the air, frame by frame. It holds
 * only what crossed the air — public values and ciphertext — never a password, PIN, token or
 * key, because the recorder sits below the framing layer and sees no more than an eavesdropper.
 */
export const FRAME_TRACE_FORMAT = "pairkit.frame-trace";
export const FRAME_TRACE_VERSION = 1;

/** Central → peripheral is an ATT write (phone to vehicle or card); the other way a notification. */
export type TraceDirection = "central-to-peripheral" | "peripheral-to-central";

export interface TraceConnect {
  readonly kind: "connect";
  /** Milliseconds since the recording started. */
  readonly t: number;
  /** Numbers the connections of one trace from 1. */
  readonly link: number;
  /** The peripheral's id on the radio. */
  readonly peer: string;
}

export interface TraceFrame {
  readonly kind: "frame";
  readonly t: number;
  readonly link: number;
  readonly direction: TraceDirection;
  /** The GATT service of the characteristic that carried it (owner pairing or Active Card). */
  readonly service: string;
  /** The 6 header bytes as fields; null when the frame was too short to have a header. */
  readonly header: FrameHeader | null;
  /** Lowercase hex of the bytes after the header (the whole frame when `header` is null). */
  readonly body: string;
}

export interface TraceDisconnect {
  readonly kind: "disconnect";
  readonly t: number;
  readonly link: number;
}

export type TraceEvent = TraceConnect | TraceFrame | TraceDisconnect;

export interface FrameTrace {
  readonly format: typeof FRAME_TRACE_FORMAT;
  readonly version: typeof FRAME_TRACE_VERSION;
  /** Wall-clock start of the recording, ISO 8601. */
  readonly startedAt: string;
  /** What was recorded, e.g. a demo scenario's name. */
  readonly label?: string;
  readonly events: readonly TraceEvent[];
}

export type TraceFormatErrorCode = "TRACE_NOT_JSON" | "TRACE_MALFORMED" | "TRACE_UNSUPPORTED_VERSION";

/** A trace file that is not a version-1 pairkit frame trace; `path` names the offending field. */
export class TraceFormatError extends PairkitError {
  declare readonly code: TraceFormatErrorCode;
  readonly path: string;

  constructor(code: TraceFormatErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(code, `${path}: ${message}`, options);
    this.path = path;
  }
}

/** Parses and checks a trace file's text; every deviation is a {@link TraceFormatError}. */
export function parseFrameTrace(text: string): FrameTrace {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TraceFormatError("TRACE_NOT_JSON", "$", "not JSON", { cause });
  }
  return checkFrameTrace(value);
}

/** Checks an already parsed value (e.g. the `trace` of a `pairkit demo --json` scenario). */
export function checkFrameTrace(value: unknown): FrameTrace {
  const root = object(value, "$");
  if (root.format !== FRAME_TRACE_FORMAT) {
    throw new TraceFormatError("TRACE_MALFORMED", "$.format", `expected "${FRAME_TRACE_FORMAT}"`);
  }
  if (root.version !== FRAME_TRACE_VERSION) {
    throw new TraceFormatError(
      "TRACE_UNSUPPORTED_VERSION",
      "$.version",
      `version ${JSON.stringify(root.version)}; this reader understands ${FRAME_TRACE_VERSION}`,
    );
  }
  const startedAt = string(root.startedAt, "$.startedAt");
  if (Number.isNaN(Date.parse(startedAt))) malformed("$.startedAt", "not an ISO 8601 time");
  if (!Array.isArray(root.events)) malformed("$.events", "expected an array");
  const events = root.events.map((event: unknown, i: number) => checkEvent(event, `$.events[${i}]`));
  return {
    format: FRAME_TRACE_FORMAT,
    version: FRAME_TRACE_VERSION,
    startedAt,
    ...(root.label === undefined ? {} : { label: string(root.label, "$.label") }),
    events,
  };
}

function checkEvent(value: unknown, path: string): TraceEvent {
  const e = object(value, path);
  const t = e.t;
  if (typeof t !== "number" || !Number.isFinite(t) || t < 0) malformed(`${path}.t`, "expected a time ≥ 0");
  const link = e.link;
  if (typeof link !== "number" || !Number.isInteger(link) || link < 1) {
    malformed(`${path}.link`, "expected a connection number ≥ 1");
  }
  switch (e.kind) {
    case "connect":
      return { kind: "connect", t, link, peer: string(e.peer, `${path}.peer`) };
    case "disconnect":
      return { kind: "disconnect", t, link };
    case "frame": {
      if (e.direction !== "central-to-peripheral" && e.direction !== "peripheral-to-central") {
        malformed(`${path}.direction`, "expected central-to-peripheral or peripheral-to-central");
      }
      const body = string(e.body, `${path}.body`);
      if (!/^(?:[0-9a-f]{2})*$/.test(body)) malformed(`${path}.body`, "expected lowercase hex");
      const header = e.header === null ? null : checkHeader(e.header, `${path}.header`);
      if (header === null && body.length / 2 >= FRAME_HEADER_SIZE) {
        malformed(`${path}.header`, "null, but the frame is long enough to have one");
      }
      return {
        kind: "frame",
        t,
        link,
        direction: e.direction,
        service: string(e.service, `${path}.service`),
        header,
        body,
      };
    }
    default:
      return malformed(`${path}.kind`, "expected connect, frame or disconnect");
  }
}

const HEADER_FIELDS = ["version", "type", "seq", "totalSeq", "payloadLength", "flags"] as const;

function checkHeader(value: unknown, path: string): FrameHeader {
  const h = object(value, path);
  const out: Record<string, number> = {};
  for (const field of HEADER_FIELDS) {
    const v = h[field];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xff) {
      malformed(`${path}.${field}`, "expected a byte (0–255)");
    }
    out[field] = v;
  }
  return out as unknown as FrameHeader;
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    malformed(path, "expected an object");
  return value as Record<string, unknown>;
}

function string(value: unknown, path: string): string {
  if (typeof value !== "string") malformed(path, "expected a string");
  return value;
}

function malformed(path: string, message: string): never {
  throw new TraceFormatError("TRACE_MALFORMED", path, message);
}
