import { FrameError } from "./frame-error.ts";
import {
  FRAME_HEADER_SIZE,
  FRAME_VERSION,
  type FrameHeader,
  KNOWN_FRAME_FLAGS,
  MAX_FRAME_BODY,
} from "./frame-header.ts";
import { isKnownFrameType } from "./frame-type.ts";

/** One decoded frame. `body` is a view into the bytes given to {@link decodeFrame}, not a copy. */
export interface Frame {
  readonly header: FrameHeader;
  readonly body: Uint8Array;
}

/** The header fields a sender chooses; version and payloadLength follow from the codec and the body. */
export interface FrameFields {
  readonly type: number;
  readonly seq: number;
  readonly totalSeq: number;
  readonly flags: number;
}

/** Builds one frame; throws {@link FrameError} for fields a receiver would reject. */
export function encodeFrame(fields: FrameFields, body: Uint8Array): Uint8Array {
  const header: FrameHeader = { version: FRAME_VERSION, payloadLength: body.length, ...fields };
  checkHeader(header, body.length);
  const frame = new Uint8Array(FRAME_HEADER_SIZE + body.length);
  frame.set(
    [header.version, header.type, header.seq, header.totalSeq, header.payloadLength, header.flags],
    0,
  );
  frame.set(body, FRAME_HEADER_SIZE);
  return frame;
}

/** Parses one frame as received from a FrameChannel; throws {@link FrameError} for anything malformed. */
export function decodeFrame(frame: Uint8Array): Frame {
  if (frame.length < FRAME_HEADER_SIZE) {
    throw new FrameError("FRAME_TOO_SHORT", `frame of ${frame.length} bytes is shorter than its header`);
  }
  const header: FrameHeader = {
    version: frame[0]!,
    type: frame[1]!,
    seq: frame[2]!,
    totalSeq: frame[3]!,
    payloadLength: frame[4]!,
    flags: frame[5]!,
  };
  checkHeader(header, frame.length - FRAME_HEADER_SIZE);
  return { header, body: frame.subarray(FRAME_HEADER_SIZE) };
}

function checkHeader(header: FrameHeader, bodyLength: number): void {
  if (header.version !== FRAME_VERSION) {
    throw new FrameError("BAD_VERSION", `frame version ${header.version}, expected ${FRAME_VERSION}`);
  }
  if (!isKnownFrameType(header.type)) {
    throw new FrameError("UNKNOWN_TYPE", `unknown frame type 0x${header.type.toString(16).padStart(2, "0")}`);
  }
  if (!isByte(header.totalSeq) || header.totalSeq === 0) {
    throw new FrameError("BAD_TOTAL_SEQ", `totalSeq ${header.totalSeq} is not in 1–255`);
  }
  if (!isByte(header.seq) || header.seq >= header.totalSeq) {
    throw new FrameError("SEQ_OUT_OF_RANGE", `seq ${header.seq} is not below totalSeq ${header.totalSeq}`);
  }
  if (bodyLength > MAX_FRAME_BODY || header.payloadLength !== bodyLength) {
    throw new FrameError(
      "LENGTH_MISMATCH",
      `payloadLength ${header.payloadLength} but the frame carries ${bodyLength} body bytes`,
    );
  }
  if (!isByte(header.flags) || (header.flags & ~KNOWN_FRAME_FLAGS) !== 0) {
    throw new FrameError("RESERVED_FLAGS", `reserved flag bits set: 0x${header.flags.toString(16)}`);
  }
}

function isByte(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xff;
}
