import { FrameError } from "./frame-error.ts";
import { MAX_FRAME_SIZE, MIN_FRAME_SIZE } from "./frame-header.ts";

/** Body of a LINK_PARAMS message (type 0x20): the sender's usable frame size, uint16 big-endian. */
export const LINK_PARAMS_SIZE = 2;
/** The value a side announces when its platform cannot read the ATT MTU (Web Bluetooth). */
const UNKNOWN = 0;

export interface LinkParams {
  /** Largest frame (header included) one ATT operation carries on this link; undefined if unknown. */
  readonly maxFrameSize: number | undefined;
}

export function encodeLinkParams(params: LinkParams): Uint8Array {
  const value = params.maxFrameSize ?? UNKNOWN;
  if (value !== UNKNOWN) checkAnnounced(value);
  return Uint8Array.of(value >> 8, value & 0xff);
}

export function decodeLinkParams(body: Uint8Array): LinkParams {
  if (body.length !== LINK_PARAMS_SIZE) {
    throw new FrameError(
      "BAD_LINK_PARAMS",
      `LINK_PARAMS of ${body.length} bytes, expected ${LINK_PARAMS_SIZE}`,
    );
  }
  const value = (body[0]! << 8) | body[1]!;
  if (value === UNKNOWN) return { maxFrameSize: undefined };
  checkAnnounced(value);
  return { maxFrameSize: value };
}

function checkAnnounced(value: number): void {
  if (!Number.isInteger(value) || value < MIN_FRAME_SIZE || value > MAX_FRAME_SIZE) {
    throw new FrameError(
      "BAD_LINK_PARAMS",
      `announced frame size ${value} is outside ${MIN_FRAME_SIZE}–${MAX_FRAME_SIZE}`,
    );
  }
}
