import { TransportError, utf8 } from "@pairkit/core";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { findPeripheral } from "../../src/gatt/connect.ts";
import { GattError } from "../../src/gatt/errors.ts";
import {
  OWNER_PAIRING_PIPE,
  openCentralFrameChannel,
  openPeripheralFrameChannel,
} from "../../src/gatt/frame-channels.ts";
import type { GattServerConnection } from "../../src/gatt/types.ts";
import { OWNER_PAIRING_SERVICE } from "../../src/gatt/uuids.ts";
import { openRadioCentral, openRadioPeripheral } from "../../src/ws/radio-client.ts";
import { type RadioServer, startRadioServer } from "../../src/ws/radio-server.ts";
import { OWNER_GATT } from "../support/sim-fixtures.ts";

let server: RadioServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function vehicleOnRadio(url: string) {
  const vehicle = await openRadioPeripheral(url, { nodeId: "vehicle", mtu: 185 });
  await vehicle.setServices(OWNER_GATT);
  const connections: GattServerConnection[] = [];
  vehicle.onConnection((c) => connections.push(c));
  await vehicle.startAdvertising({
    serviceUuids: [OWNER_PAIRING_SERVICE],
    localName: "PK-VIN",
    manufacturerData: { companyId: 0x0ffe, data: Uint8Array.of(7, 8) },
  });
  return { vehicle, connections };
}

describe("WebSocket radio", () => {
  it("scans with filters, connects with the smaller MTU and carries frames both ways", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
    const { vehicle, connections } = await vehicleOnRadio(server.url);
    const phone = await openRadioCentral(server.url, { mtu: 247 });
    const found = await findPeripheral(phone, {
      timeoutMs: 2000,
      filters: [{ manufacturerData: { companyId: 0x0ffe, dataPrefix: Uint8Array.of(7) } }],
    });
    expect(found).toMatchObject({ peripheralId: "vehicle", data: { localName: "PK-VIN" } });
    expect(found.data.manufacturerData?.data).toEqual(Uint8Array.of(7, 8));
    const client = await phone.connect("vehicle", { timeoutMs: 2000 });
    expect(client.mtu).toBe(185);
    await expect.poll(() => connections.length).toBe(1);
    const peripheralSide = openPeripheralFrameChannel(connections[0]!, OWNER_PAIRING_PIPE, {
      timeoutMs: 2000,
    });
    const central = await openCentralFrameChannel(client, OWNER_PAIRING_PIPE);
    const peripheral = await peripheralSide;
    const atPeripheral: string[] = [];
    const atCentral: string[] = [];
    peripheral.onFrame((f) => atPeripheral.push(new TextDecoder().decode(f)));
    central.onFrame((f) => atCentral.push(new TextDecoder().decode(f)));
    for (const word of ["one", "two", "three"]) await central.sendFrame(utf8(word));
    await peripheral.sendFrame(utf8("back"));
    await expect.poll(() => atCentral).toEqual(["back"]);
    expect(atPeripheral).toEqual(["one", "two", "three"]);
    await expect(central.sendFrame(new Uint8Array(183))).rejects.toMatchObject({ code: "VALUE_TOO_LONG" });

    const closed = new Promise((resolve) => peripheral.onClose(resolve));
    await central.close();
    expect(await closed).toBeInstanceOf(TransportError);
    await phone.close();
    await vehicle.close();
  });

  it("returns a peripheral's ATT error and reports the peripheral leaving as a disconnect", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
    const { vehicle, connections } = await vehicleOnRadio(server.url);
    const phone = await openRadioCentral(server.url);
    const client = await phone.connect("vehicle", { timeoutMs: 2000 });
    await expect.poll(() => connections.length).toBe(1);
    connections[0]!.onWrite(OWNER_GATT[0]!.uuid, OWNER_GATT[0]!.characteristics[0]!.uuid, () => {
      throw new GattError("NO", "refused", { attError: 0x80 });
    });
    await client.discoverServices();
    const write = client.write(OWNER_GATT[0]!.uuid, OWNER_GATT[0]!.characteristics[0]!.uuid, utf8("x"));
    await expect(write).rejects.toMatchObject({ code: "WRITE_REJECTED", attError: 0x80 });
    const gone = new Promise((resolve) => client.onDisconnect(resolve));
    await vehicle.close();
    expect(await gone).toMatchObject({ code: "DISCONNECTED" });
    expect(client.connected).toBe(false);
    await phone.close();
  });

  it("a node that leaves the air drops its connections: the peer sees a disconnect", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
    const { vehicle, connections } = await vehicleOnRadio(server.url);
    const phone = await openRadioCentral(server.url);
    await phone.connect("vehicle", { timeoutMs: 2000 });
    await expect.poll(() => connections.length).toBe(1);
    const gone = new Promise((resolve) => connections[0]!.onDisconnect(resolve));
    await phone.close();
    expect(await gone).toMatchObject({ code: "DISCONNECTED" });
    // The vehicle advertises again and a new central can connect.
    const next = await openRadioCentral(server.url);
    const client = await next.connect("vehicle", { timeoutMs: 2000 });
    expect(client.connected).toBe(true);
    await next.close();
    await vehicle.close();
  });

  it("answers malformed requests with a BAD_REQUEST error and keeps the session", async () => {
    server = await startRadioServer();
    const socket = new WebSocket(server.url);
    const replies: Record<string, unknown>[] = [];
    socket.on("message", (data) => replies.push(JSON.parse(data.toString())));
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send("not json");
    socket.send(JSON.stringify({ kind: "scan", id: 1, scanId: 1, timeoutMs: 10 }));
    socket.send(JSON.stringify({ kind: "hello", id: 2, version: 9, role: "central" }));
    socket.send(JSON.stringify({ kind: "hello", id: 3, version: 1, role: "peripheral", nodeId: "p" }));
    socket.send(
      JSON.stringify({ kind: "setServices", id: 4, services: [{ uuid: "zz", characteristics: [] }] }),
    );
    socket.send(
      JSON.stringify({
        kind: "startAdvertising",
        id: 5,
        data: { serviceUuids: [], manufacturerData: { companyId: 1, data: "%%" } },
      }),
    );
    socket.send(JSON.stringify({ kind: "writeResponse", requestId: 42 }));
    socket.send(JSON.stringify({ kind: "stopAdvertising", id: 6 }));
    await expect.poll(() => replies.length).toBe(8);
    // Replies are matched by id, not by order (docs/radio.md): compare them sorted.
    const sorted = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();
    expect(sorted(replies.map((r) => [r.kind, r.id ?? null, r.code ?? null]))).toEqual(
      sorted([
        ["error", null, "BAD_REQUEST"],
        ["error", 1, "BAD_REQUEST"],
        ["error", 2, "UNSUPPORTED_VERSION"],
        ["result", 3, null],
        ["error", 4, "BAD_REQUEST"],
        ["error", 5, "BAD_REQUEST"],
        ["error", null, "BAD_REQUEST"],
        ["result", 6, null],
      ]),
    );
    socket.close();
  });
});
