import { PairkitError } from "../errors.ts";

/**
 * Why a frame or a reassembled message was rejected. Stable: peers, logs and tests branch on
 * these codes (docs/protocol.md §2.8). They live beside the `Link` port, not in the BLE package,
 * because protocol code reports them to the peer with their own ERROR codes (§3.9).
 */
export type FrameErrorCode =
  // one frame's header (docs/protocol.md §2.2)
  | "FRAME_TOO_SHORT"
  | "BAD_VERSION"
  | "UNKNOWN_TYPE"
  | "BAD_TOTAL_SEQ"
  | "SEQ_OUT_OF_RANGE"
  | "LENGTH_MISMATCH"
  | "RESERVED_FLAGS"
  // reassembly (§2.4)
  | "EMPTY_CHUNK"
  | "DUPLICATE_CHUNK"
  | "MISSING_CHUNK"
  | "HEADER_CHANGED"
  | "MESSAGE_TOO_LARGE"
  | "CHUNK_TIMEOUT"
  // frame size (§2.5)
  | "BAD_FRAME_SIZE"
  | "BAD_LINK_PARAMS"
  // encryption (§2.6)
  | "NOT_SECURED"
  | "NOT_ENCRYPTED"
  | "ALREADY_SECURED"
  | "SEALED_TOO_SHORT"
  | "REPLAYED_COUNTER"
  | "COUNTER_GAP"
  | "COUNTER_EXHAUSTED";

/** A frame, a chunk sequence or a sealed message broke the BLE framing rules of docs/protocol.md §2. */
export class FrameError extends PairkitError {
  declare readonly code: FrameErrorCode;

  constructor(code: FrameErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
