import { TransportError } from "@pairkit/core";
import { MAX_FRAME_SIZE, MIN_FRAME_SIZE } from "./frame-header.ts";

/** ATT adds an opcode and a 2-byte handle to every write and notification. */
export const ATT_OVERHEAD = 3;
export const MIN_ATT_MTU = 23;

/**
 * The largest frame one ATT operation carries at `mtu`: MTU − 3, capped at 261 because a
 * frame body is at most 255 bytes. `undefined` when the platform cannot tell the MTU.
 */
export function frameSizeForMtu(mtu: number | undefined): number | undefined {
  if (mtu === undefined) return undefined;
  if (!Number.isInteger(mtu) || mtu < MIN_ATT_MTU) {
    throw new TransportError("BAD_MTU", `ATT MTU ${mtu} is below the BLE minimum of ${MIN_ATT_MTU}`);
  }
  return Math.min(mtu - ATT_OVERHEAD, MAX_FRAME_SIZE);
}

/**
 * The frame size to send with (docs/protocol.md §2.5): the smaller of what this side's
 * platform reports and what the peer announced in LINK_PARAMS; 20 bytes when neither is known,
 * since every BLE link carries ATT MTU 23.
 */
export function negotiateFrameSize(own: number | undefined, peer: number | undefined): number {
  if (own === undefined) return peer ?? MIN_FRAME_SIZE;
  return peer === undefined ? own : Math.min(own, peer);
}
