import type { Clock, Crypto, VehicleConnector } from "@pairkit/core";
import { FramedLink } from "./framed-link.ts";
import { DeviceKind, pairkitScanFilter } from "./gatt/advertising-data.ts";
import { findPeripheral } from "./gatt/connect.ts";
import { OWNER_PAIRING_PIPE, openCentralFrameChannel } from "./gatt/frame-channels.ts";
import type { Central } from "./gatt/types.ts";

/**
 * The phone's VehicleConnector over a BLE Central: scan for the owner pairing service with the
 * vehicle id hint, connect, open the pipe, frame it. It lives here rather than in core (which
 * knows no BLE) so phones, the browser console and tests share it without the simulator.
 */
export function centralVehicleConnector(
  central: Central,
  options: { crypto: Crypto; clock?: Clock },
): VehicleConnector {
  return {
    async connect({ vehicleHint, timeoutMs, signal }) {
      const found = await findPeripheral(central, {
        filters: [pairkitScanFilter(DeviceKind.VEHICLE, vehicleHint)],
        timeoutMs,
        ...(signal ? { signal } : {}),
      });
      const client = await central.connect(found.peripheralId, { timeoutMs, ...(signal ? { signal } : {}) });
      const channel = await openCentralFrameChannel(client, OWNER_PAIRING_PIPE, signal ? { signal } : {});
      return new FramedLink(channel, {
        role: "central",
        crypto: options.crypto,
        ...(options.clock ? { clock: options.clock } : {}),
      });
    },
  };
}
