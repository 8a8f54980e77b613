import {
  FramedLink,
  OWNER_COMMAND_CHARACTERISTIC,
  OWNER_PAIRING_PIPE,
  OWNER_PAIRING_SERVICE,
  OWNER_STATUS_CHARACTERISTIC,
  openPeripheralFrameChannel,
  type Peripheral,
} from "@pairkit/ble";
import { OwnerTimeouts } from "@pairkit/core";
import type { VehicleSessionOutcome, VehicleSimulator } from "./vehicle.ts";

/** The vehicle's GATT database (docs/protocol.md §2.1). */
export const VEHICLE_GATT = [
  {
    uuid: OWNER_PAIRING_SERVICE,
    characteristics: [
      { uuid: OWNER_COMMAND_CHARACTERISTIC, properties: ["write", "notify"] as const },
      { uuid: OWNER_STATUS_CHARACTERISTIC, properties: ["notify"] as const },
    ],
  },
];

/**
 * Puts the vehicle simulator on a BLE peripheral (the simulated radio, the WebSocket radio, or
 * bleno): serves the owner pairing service, advertises with the vehicle id hint, and runs each
 * connection as a framed `Link` through `vehicle.serve`. Returns a function that stops it.
 */
export async function advertiseVehicle(
  vehicle: VehicleSimulator,
  peripheral: Peripheral,
  options: { localName?: string; onOutcome?: (outcome: VehicleSessionOutcome) => void } = {},
): Promise<() => Promise<void>> {
  await peripheral.setServices(VEHICLE_GATT);
  const stop = peripheral.onConnection((connection) => {
    openPeripheralFrameChannel(connection, OWNER_PAIRING_PIPE, {
      timeoutMs: OwnerTimeouts.response,
      clock: vehicle.clock,
    }).then(
      async (channel) => {
        const link = new FramedLink(channel, {
          role: "peripheral",
          crypto: vehicle.crypto,
          clock: vehicle.clock,
        });
        const outcome = await vehicle.serve(link);
        options.onOutcome?.(outcome);
      },
      // A central that connects and never subscribes is simply dropped.
      () => connection.disconnect(),
    );
  });
  await peripheral.startAdvertising({
    serviceUuids: [OWNER_PAIRING_SERVICE],
    localName: options.localName ?? "pairkit vehicle",
    manufacturerData: vehicle.manufacturerData(),
  });
  return async () => {
    stop();
    await peripheral.stopAdvertising();
  };
}
