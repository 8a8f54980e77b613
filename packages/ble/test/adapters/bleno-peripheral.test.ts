import { toHex } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { type BlenoLike, createBlenoPeripheral } from "../../src/adapters/bleno-peripheral.ts";
import { AdapterUnavailableError, GattError } from "../../src/gatt/errors.ts";
import { OWNER_PAIRING_PIPE, openPeripheralFrameChannel } from "../../src/gatt/frame-channels.ts";
import type { GattServerConnection } from "../../src/gatt/types.ts";
import { compactUuid, OWNER_COMMAND_CHARACTERISTIC, OWNER_PAIRING_SERVICE } from "../../src/gatt/uuids.ts";
import { OWNER_GATT } from "../support/sim-fixtures.ts";
import { FakeBleno } from "./fake-bleno.ts";

const COMMAND = compactUuid(OWNER_COMMAND_CHARACTERISTIC);

async function setup() {
  const bleno = new FakeBleno();
  const peripheral = await createBlenoPeripheral({ bleno: bleno as unknown as BlenoLike });
  await peripheral.setServices(OWNER_GATT);
  const connections: GattServerConnection[] = [];
  peripheral.onConnection((c) => connections.push(c));
  return { bleno, peripheral, connections };
}

describe("bleno peripheral adapter", () => {
  it("builds bleno's GATT database and advertises with EIR data and a scan response", async () => {
    const { bleno, peripheral } = await setup();
    expect(bleno.services.map((s) => s.uuid)).toEqual([compactUuid(OWNER_PAIRING_SERVICE)]);
    expect(bleno.services[0]!.characteristics.map((c) => [c.uuid, c.properties])).toEqual([
      [COMMAND, ["write", "notify"]],
    ]);
    await peripheral.startAdvertising({
      serviceUuids: [OWNER_PAIRING_SERVICE],
      localName: "PK-VIN",
      manufacturerData: { companyId: 0xffff, data: Uint8Array.of(1, 1) },
    });
    expect(toHex(bleno.advertising!.advertisement)).toBe(
      `020106` + `1107${"b7d1942e0a5c619f8a4d3e7bc1cc0000"}` + `05ffffff0101`,
    );
    expect(toHex(bleno.advertising!.scanResponse)).toBe(`0709${toHex(new TextEncoder().encode("PK-VIN"))}`);
    await peripheral.close();
    expect(bleno.advertising).toBeUndefined();
    expect(bleno.stopped).toBe(true);
  });

  it("serves a frame channel: writes in, notifications out after the CCCD, cut at MTU − 3", async () => {
    const { bleno, connections } = await setup();
    bleno.emit("accept", "11:22:33:44:55:66", 64);
    bleno.emit("mtuChange", 185);
    expect(connections).toHaveLength(1);
    const connection = connections[0]!;
    expect(connection.centralId).toBe("11:22:33:44:55:66");
    expect(connection.mtu).toBe(185);
    const opening = openPeripheralFrameChannel(connection, OWNER_PAIRING_PIPE, { timeoutMs: 5000 });
    const sent: Buffer[] = [];
    bleno.characteristic(COMMAND).emit("subscribe", 64, 182, (data: Buffer) => sent.push(data));
    const channel = await opening;
    const frames: number[][] = [];
    channel.onFrame((f) => frames.push([...f]));
    expect(await bleno.write(COMMAND, 64, Uint8Array.of(1, 2))).toBe(0);
    expect(await bleno.write(COMMAND, 64, Uint8Array.of(3))).toBe(0);
    expect(frames).toEqual([[1, 2], [3]]);
    await channel.sendFrame(Uint8Array.of(9, 9));
    await channel.sendFrame(new Uint8Array(200));
    expect(sent.map((b) => b.length)).toEqual([2, 182]);
    // A prepared (long) write is not a frame: refused.
    expect(await bleno.write(COMMAND, 64, Uint8Array.of(1), 5)).toBe(0x0e);
    bleno.characteristic(COMMAND).emit("unsubscribe", 64);
    await expect(channel.sendFrame(Uint8Array.of(1))).rejects.toMatchObject({ code: "NOT_SUBSCRIBED" });

    const closed = new Promise((resolve) => channel.onClose(resolve));
    bleno.emit("disconnect", "11:22:33:44:55:66", 64);
    expect(await closed).toMatchObject({ code: "DISCONNECTED" });
    expect(connection.connected).toBe(false);
  });

  it("answers a rejected write with the handler's ATT error, and an unhandled one with 0x0E", async () => {
    const { bleno, connections } = await setup();
    bleno.emit("accept", "aa", 1);
    expect(await bleno.write(COMMAND, 1, Uint8Array.of(1))).toBe(0x0e);
    connections[0]!.onWrite(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, () => {
      throw new GattError("NO", "no", { attError: 0x81 });
    });
    expect(await bleno.write(COMMAND, 1, Uint8Array.of(1))).toBe(0x81);
    await connections[0]!.disconnect();
    expect(bleno.disconnects).toBe(1);
  });

  it("reports a missing adapter as AdapterUnavailableError", async () => {
    const bleno = new FakeBleno();
    bleno.state = "unsupported";
    await expect(createBlenoPeripheral({ bleno: bleno as unknown as BlenoLike })).rejects.toBeInstanceOf(
      AdapterUnavailableError,
    );
  });
});
