import { OwnerFrameType } from "@pairkit/core";

/**
 * The frame type registry (docs/protocol.md §2.3): the byte in every frame header that says
 * what the reassembled message is. Seed 001 §2 fixes 0x01–0x0A and 0x7F; the ranges are
 * pairkit's.
 */
export const FrameType = {
  // Owner pairing (seed 001 §2) and the standard transaction: core owns those numbers.
  ...OwnerFrameType,
  /** Link control: frame-size announcement, handled inside the link (§2.5). */
  LINK_PARAMS: 0x20,
  /** One Active Card `TransportMessageWrapper` (seed 002 §0). */
  ACTIVE_CARD_MESSAGE: 0x30,
} as const;

/** Reserved for the standard (AUTH0/AUTH1-style) transaction; the owner pairing issue names them. */
export const STANDARD_TRANSACTION_TYPES = { first: 0x10, last: 0x1f } as const;
/** Reserved for link control; only LINK_PARAMS is defined so far. */
export const LINK_CONTROL_TYPES = { first: 0x20, last: 0x2f } as const;

/** Whether `type` is a message a {@link Link} carries for protocol code (not link control). */
export function isMessageType(type: number): boolean {
  return (
    Number.isInteger(type) &&
    ((type >= FrameType.SELECT && type <= FrameType.OP_CONTROL_FLOW) ||
      (type >= STANDARD_TRANSACTION_TYPES.first && type <= STANDARD_TRANSACTION_TYPES.last) ||
      type === FrameType.ACTIVE_CARD_MESSAGE ||
      type === FrameType.ERROR)
  );
}

/** Whether `type` is a link-control message the link consumes itself. */
export function isLinkControlType(type: number): boolean {
  return type === FrameType.LINK_PARAMS;
}

/** Whether a frame of this type may appear on the wire at all. */
export function isKnownFrameType(type: number): boolean {
  return isMessageType(type) || isLinkControlType(type);
}
