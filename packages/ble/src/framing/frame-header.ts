/**
 * The 6-byte frame header of seed 001 §2 — `version | type | seq | totalSeq | payloadLength |
 * flags`, one byte each — and the size limits that follow from it (docs/protocol.md §2.2).
 */
export const FRAME_VERSION = 0x01;
export const FRAME_HEADER_SIZE = 6;
/** `payloadLength` is one byte, so a frame body never exceeds 255 bytes, whatever the MTU. */
export const MAX_FRAME_BODY = 255;
export const MAX_FRAME_SIZE = FRAME_HEADER_SIZE + MAX_FRAME_BODY;
/** ATT MTU 23 (the minimum every stack supports) minus the 3-byte ATT opcode and handle. */
export const MIN_FRAME_SIZE = 20;
/** `totalSeq` is one byte and `seq` counts from 0, so a message spans at most 255 frames. */
export const MAX_FRAMES_PER_MESSAGE = 255;

export const FrameFlags = {
  /** The message body is sealed under Kenc (counter ‖ ciphertext ‖ tag, §2.6). */
  ENCRYPTED: 0x01,
} as const;
/** Flag bits a version-1 receiver understands; any other bit set is rejected. */
export const KNOWN_FRAME_FLAGS = FrameFlags.ENCRYPTED;

export interface FrameHeader {
  readonly version: number;
  readonly type: number;
  /** Index of this chunk, from 0. */
  readonly seq: number;
  /** Number of chunks in the message, 1–255. */
  readonly totalSeq: number;
  /** Length of this frame's body; equals the frame length minus 6. */
  readonly payloadLength: number;
  readonly flags: number;
}
