import { AbortedError, TimeoutError, TransportError } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import {
  createNobleCentral,
  type NobleLike,
  type NoblePeripheralLike,
} from "../../src/adapters/noble-central.ts";
import { findPeripheral } from "../../src/gatt/connect.ts";
import { AdapterUnavailableError } from "../../src/gatt/errors.ts";
import { OWNER_PAIRING_PIPE, openCentralFrameChannel } from "../../src/gatt/frame-channels.ts";
import { compactUuid, OWNER_COMMAND_CHARACTERISTIC, OWNER_PAIRING_SERVICE } from "../../src/gatt/uuids.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { FakeNoble, FakeNobleCharacteristic, FakeNoblePeripheral } from "./fake-noble.ts";

const service = compactUuid(OWNER_PAIRING_SERVICE);

function vehicle(id = "aa:bb") {
  const command = new FakeNobleCharacteristic(service, compactUuid(OWNER_COMMAND_CHARACTERISTIC), [
    "write",
    "notify",
  ]);
  const peripheral = new FakeNoblePeripheral(
    id,
    {
      localName: "PK-VIN",
      serviceUuids: [service],
      // Company 0xFFFF little-endian, then the payload.
      manufacturerData: Buffer.from([0xff, 0xff, 0x01, 0x01]),
    },
    [{ uuid: service }, { uuid: "180f" }],
    [command, new FakeNobleCharacteristic("180f", "2a19", ["read", "notify"])],
  );
  return { peripheral, command };
}

async function setup() {
  const clock = new FakeClock();
  const noble = new FakeNoble();
  const central = await createNobleCentral({ noble: noble as unknown as NobleLike, clock });
  return { clock, noble, central };
}

const asNoble = (p: FakeNoblePeripheral) => p as unknown as NoblePeripheralLike;

describe("noble central adapter", () => {
  it("scans through noble with service filtering in the controller and the rest in the adapter", async () => {
    const { clock, noble, central } = await setup();
    const found = findPeripheral(central, {
      timeoutMs: 5000,
      filters: [
        {
          services: [OWNER_PAIRING_SERVICE],
          manufacturerData: { companyId: 0xffff, dataPrefix: Uint8Array.of(1, 1) },
        },
      ],
    });
    await clock.advance(0);
    expect(noble.scanning).toEqual({ services: [service], allowDuplicates: false });
    const other = new FakeNoblePeripheral(
      "cc",
      { serviceUuids: [service], manufacturerData: Buffer.from([0xff, 0xff, 0x01, 0x02]) },
      [],
      [],
    );
    noble.emit("discover", asNoble(other));
    noble.emit("discover", asNoble(vehicle().peripheral));
    const advertisement = await clock.run(found);
    expect(advertisement).toMatchObject({
      peripheralId: "aa:bb",
      rssi: -55,
      data: { localName: "PK-VIN", serviceUuids: [OWNER_PAIRING_SERVICE] },
    });
    expect(advertisement.data.manufacturerData).toEqual({ companyId: 0xffff, data: Uint8Array.of(1, 1) });
    expect(noble.scanning).toBeUndefined();
    expect(noble.listenerCount("discover")).toBe(0);
  });

  it("ends the scan at its timeout and on abort, stopping noble's scan each time", async () => {
    const { clock, noble, central } = await setup();
    await expect(clock.run(findPeripheral(central, { timeoutMs: 1000 }))).rejects.toBeInstanceOf(
      TimeoutError,
    );
    expect(noble.scanning).toBeUndefined();
    const controller = new AbortController();
    const scan = findPeripheral(central, { timeoutMs: 1000, signal: controller.signal });
    controller.abort();
    await expect(scan).rejects.toBeInstanceOf(AbortedError);
    expect(noble.scanning).toBeUndefined();
  });

  it("connects, discovers, writes with response and receives notifications through a frame channel", async () => {
    const { clock, noble, central } = await setup();
    const { peripheral, command } = vehicle();
    const found = findPeripheral(central, { timeoutMs: 1000 });
    await clock.advance(0);
    noble.emit("discover", asNoble(peripheral));
    await clock.run(found);
    const client = await clock.run(central.connect("aa:bb", { timeoutMs: 5000 }));
    expect(client.mtu).toBe(185);
    const channel = await openCentralFrameChannel(client, OWNER_PAIRING_PIPE);
    expect(command.subscribed).toBe(true);
    const frames: number[][] = [];
    channel.onFrame((f) => frames.push([...f]));
    await channel.sendFrame(Uint8Array.of(1, 2, 3));
    expect(command.writes).toEqual([{ data: Buffer.from([1, 2, 3]), withoutResponse: false }]);
    command.notifyFromPeripheral(Uint8Array.of(9));
    command.emit("data", Buffer.from([7]), false); // a read result, not a notification
    expect(frames).toEqual([[9]]);
    await expect(channel.sendFrame(new Uint8Array(183))).rejects.toMatchObject({ code: "VALUE_TOO_LONG" });
    command.rejectWrites = true;
    await expect(channel.sendFrame(Uint8Array.of(1))).rejects.toMatchObject({ code: "WRITE_REJECTED" });

    const closed = new Promise((resolve) => channel.onClose(resolve));
    peripheral.dropped(0x08);
    expect(await closed).toBeInstanceOf(TransportError);
    expect(client.connected).toBe(false);
    await expect(channel.sendFrame(Uint8Array.of(1))).rejects.toMatchObject({ code: "DISCONNECTED" });
  });

  it("cancels a connect that passes its timeout and reports a failed connect as CONNECT_FAILED", async () => {
    const { clock, noble, central } = await setup();
    const { peripheral } = vehicle();
    const found = findPeripheral(central, { timeoutMs: 1000 });
    await clock.advance(0);
    noble.emit("discover", asNoble(peripheral));
    await clock.run(found);
    peripheral.connectBehaviour = "hang";
    await expect(clock.run(central.connect("aa:bb", { timeoutMs: 5000 }))).rejects.toBeInstanceOf(
      TimeoutError,
    );
    expect(peripheral.cancelled).toBe(1);
    peripheral.connectBehaviour = "fail";
    await expect(central.connect("aa:bb", { timeoutMs: 5000 })).rejects.toMatchObject({
      code: "CONNECT_FAILED",
    });
    await expect(central.connect("never-seen", { timeoutMs: 5000 })).rejects.toMatchObject({
      code: "UNKNOWN_PERIPHERAL",
    });
  });

  it("reports a missing adapter as AdapterUnavailableError", async () => {
    const noble = new FakeNoble();
    noble.state = "poweredOff";
    await expect(createNobleCentral({ noble: noble as unknown as NobleLike })).rejects.toBeInstanceOf(
      AdapterUnavailableError,
    );
  });
});
