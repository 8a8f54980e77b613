import type { FrameChannel } from "../../src/frame-channel.ts";
import {
  OWNER_PAIRING_PIPE,
  openCentralFrameChannel,
  openPeripheralFrameChannel,
} from "../../src/gatt/frame-channels.ts";
import type { GattServerConnection, Peripheral } from "../../src/gatt/types.ts";
import { OWNER_COMMAND_CHARACTERISTIC, OWNER_PAIRING_SERVICE } from "../../src/gatt/uuids.ts";
import type { FaultPlan } from "../../src/sim/faults.ts";
import { SimRadio } from "../../src/sim/sim-radio.ts";
import { FakeClock } from "./fake-clock.ts";

export const OWNER_GATT = [
  {
    uuid: OWNER_PAIRING_SERVICE,
    characteristics: [{ uuid: OWNER_COMMAND_CHARACTERISTIC, properties: ["write", "notify"] as const }],
  },
];

/** A vehicle-like peripheral that hands each accepted connection's FrameChannel to `onChannel`. */
export async function servePipe(
  peripheral: Peripheral,
  clock: FakeClock,
  onChannel: (channel: FrameChannel, connection: GattServerConnection) => void,
): Promise<void> {
  await peripheral.setServices(OWNER_GATT);
  peripheral.onConnection((connection) => {
    openPeripheralFrameChannel(connection, OWNER_PAIRING_PIPE, { timeoutMs: 5000, clock }).then(
      (channel) => onChannel(channel, connection),
      () => {},
    );
  });
  await peripheral.startAdvertising({ serviceUuids: [OWNER_PAIRING_SERVICE], localName: "PK-VEHICLE" });
}

/** One radio on a fake clock with a serving vehicle and a central; `open()` connects and opens the pipe. */
export async function simPipe(faults: FaultPlan = {}) {
  const clock = new FakeClock();
  const radio = new SimRadio({ clock, faults });
  const vehicle = radio.createPeripheral({ id: "vehicle" });
  const peripheralChannels: FrameChannel[] = [];
  const connections: GattServerConnection[] = [];
  await servePipe(vehicle, clock, (channel, connection) => {
    peripheralChannels.push(channel);
    connections.push(connection);
  });
  const central = radio.createCentral({ mtu: 185 });
  const open = async () => {
    const client = await clock.run(central.connect("vehicle", { timeoutMs: 5000 }));
    const channel = await clock.run(openCentralFrameChannel(client, OWNER_PAIRING_PIPE));
    await clock.advance(0);
    return channel;
  };
  return { clock, radio, vehicle, central, open, peripheralChannels, connections };
}

export function record(channel: FrameChannel): number[][] {
  const frames: number[][] = [];
  channel.onFrame((f) => frames.push([...f]));
  return frames;
}
