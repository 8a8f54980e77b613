import { type Crypto, DEFAULT_SCAN_TIMEOUT_MS } from "@pairkit/core";
import { FramedLink } from "./framed-link.ts";
import { findPeripheral } from "./gatt/connect.ts";
import { ACTIVE_CARD_PIPE, openCentralFrameChannel } from "./gatt/frame-channels.ts";
import type { Central } from "./gatt/types.ts";
import { ACTIVE_CARD_SERVICE } from "./gatt/uuids.ts";

/**
 * The phone's way to an Active Card (docs/protocol.md §4): find it by the name in its QR code
 * (it advertises the Active Card service and that name), connect, open the pipe, frame it.
 */
export async function openCardLink(
  central: Central,
  crypto: Crypto,
  deviceName: string,
  timeoutMs = DEFAULT_SCAN_TIMEOUT_MS,
): Promise<FramedLink> {
  const found = await findPeripheral(central, {
    filters: [{ services: [ACTIVE_CARD_SERVICE], namePrefix: deviceName }],
    timeoutMs,
  });
  const client = await central.connect(found.peripheralId, { timeoutMs });
  return new FramedLink(await openCentralFrameChannel(client, ACTIVE_CARD_PIPE), {
    role: "central",
    crypto,
  });
}
