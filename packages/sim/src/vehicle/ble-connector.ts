import {
  type Central,
  DeviceKind,
  FramedLink,
  findPeripheral,
  OWNER_PAIRING_PIPE,
  openCentralFrameChannel,
  pairkitScanFilter,
} from "@pairkit/ble";
import type { Clock, Crypto, VehicleConnector } from "@pairkit/core";

/**
 * The phone's VehicleConnector over a BLE Central: scan for the owner pairing service with the
 * vehicle id hint, connect, open the pipe, frame it. Lives beside the vehicle until @pairkit/ble
 * takes it (core cannot import BLE; this is the one BLE-aware piece of the phone side).
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
