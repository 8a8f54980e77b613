import { encodeFrame } from "./frame-codec.ts";
import { FrameError } from "./frame-error.ts";
import { FRAME_HEADER_SIZE, MAX_FRAME_SIZE, MAX_FRAMES_PER_MESSAGE, MIN_FRAME_SIZE } from "./frame-header.ts";

/** The message-level header fields: the same in every frame of one message. */
export interface MessageFields {
  readonly type: number;
  readonly flags: number;
}

/** Throws unless `maxFrameSize` is a frame size a link can use: 20 (ATT MTU 23) to 261 bytes. */
export function checkFrameSize(maxFrameSize: number): void {
  if (!Number.isInteger(maxFrameSize) || maxFrameSize < MIN_FRAME_SIZE || maxFrameSize > MAX_FRAME_SIZE) {
    throw new FrameError(
      "BAD_FRAME_SIZE",
      `frame size ${maxFrameSize} is outside ${MIN_FRAME_SIZE}–${MAX_FRAME_SIZE} bytes`,
    );
  }
}

/**
 * How many frames of at most `maxFrameSize` bytes carry a body of `bodyLength` bytes (an
 * empty body still takes one frame). Throws `MESSAGE_TOO_LARGE` past 255 frames.
 */
export function frameCount(bodyLength: number, maxFrameSize: number): number {
  checkFrameSize(maxFrameSize);
  const count = Math.max(1, Math.ceil(bodyLength / (maxFrameSize - FRAME_HEADER_SIZE)));
  if (count > MAX_FRAMES_PER_MESSAGE) {
    throw new FrameError(
      "MESSAGE_TOO_LARGE",
      `a ${bodyLength}-byte message needs ${count} frames of ${maxFrameSize} bytes; at most ${MAX_FRAMES_PER_MESSAGE} fit`,
    );
  }
  return count;
}

/** Splits one message body into frames, each at most `maxFrameSize` bytes, filled in order. */
export function chunkMessage(fields: MessageFields, body: Uint8Array, maxFrameSize: number): Uint8Array[] {
  const totalSeq = frameCount(body.length, maxFrameSize);
  const perFrame = maxFrameSize - FRAME_HEADER_SIZE;
  const frames: Uint8Array[] = [];
  for (let seq = 0; seq < totalSeq; seq++) {
    const chunk = body.subarray(seq * perFrame, (seq + 1) * perFrame);
    frames.push(encodeFrame({ type: fields.type, seq, totalSeq, flags: fields.flags }, chunk));
  }
  return frames;
}
