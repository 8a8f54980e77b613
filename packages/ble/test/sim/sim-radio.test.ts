import { AbortedError, TimeoutError, TransportError, utf8 } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { findPeripheral } from "../../src/gatt/connect.ts";
import { GattError } from "../../src/gatt/errors.ts";
import type { Advertisement, GattServerConnection } from "../../src/gatt/types.ts";
import {
  ACTIVE_CARD_MESSAGE_CHARACTERISTIC,
  ACTIVE_CARD_SERVICE,
  OWNER_COMMAND_CHARACTERISTIC,
  OWNER_PAIRING_SERVICE,
  OWNER_STATUS_CHARACTERISTIC,
} from "../../src/gatt/uuids.ts";
import { SimRadio } from "../../src/sim/sim-radio.ts";
import { FakeClock } from "../support/fake-clock.ts";

const OWNER_SERVICES = [
  {
    uuid: OWNER_PAIRING_SERVICE,
    characteristics: [
      { uuid: OWNER_COMMAND_CHARACTERISTIC, properties: ["write", "notify"] as const },
      { uuid: OWNER_STATUS_CHARACTERISTIC, properties: ["notify"] as const },
    ],
  },
];

async function air() {
  const clock = new FakeClock();
  const radio = new SimRadio({ clock });
  const vehicle = radio.createPeripheral({ id: "vehicle", mtu: 247 });
  await vehicle.setServices(OWNER_SERVICES);
  await vehicle.startAdvertising({
    serviceUuids: [OWNER_PAIRING_SERVICE],
    localName: "PK-VIN123",
    manufacturerData: { companyId: 0x0ffe, data: Uint8Array.of(0x01, 0x02, 0x03) },
  });
  const card = radio.createPeripheral({ id: "card" });
  await card.setServices([
    {
      uuid: ACTIVE_CARD_SERVICE,
      characteristics: [{ uuid: ACTIVE_CARD_MESSAGE_CHARACTERISTIC, properties: ["write", "notify"] }],
    },
  ]);
  await card.startAdvertising({ serviceUuids: [ACTIVE_CARD_SERVICE], localName: "Card-7" });
  return { clock, radio, vehicle, card };
}

async function collect(clock: FakeClock, iterable: AsyncIterable<Advertisement>): Promise<string[]> {
  const ids: string[] = [];
  await clock.run(
    (async () => {
      for await (const a of iterable) ids.push(a.peripheralId);
    })(),
  );
  return ids.sort();
}

describe("simulated radio: advertising and scanning", () => {
  it("applies service, name-prefix and manufacturer filters, each peripheral once, until the timeout", async () => {
    const { clock, radio } = await air();
    const central = radio.createCentral();
    expect(await collect(clock, central.scan({ timeoutMs: 1000 }))).toEqual(["card", "vehicle"]);
    expect(
      await collect(
        clock,
        central.scan({ timeoutMs: 1000, filters: [{ services: [OWNER_PAIRING_SERVICE] }] }),
      ),
    ).toEqual(["vehicle"]);
    expect(
      await collect(clock, central.scan({ timeoutMs: 1000, filters: [{ namePrefix: "Card" }] })),
    ).toEqual(["card"]);
    const md = (dataPrefix: Uint8Array) => [{ manufacturerData: { companyId: 0x0ffe, dataPrefix } }];
    expect(await collect(clock, central.scan({ timeoutMs: 1000, filters: md(Uint8Array.of(1, 2)) }))).toEqual(
      ["vehicle"],
    );
    expect(await collect(clock, central.scan({ timeoutMs: 1000, filters: md(Uint8Array.of(2)) }))).toEqual(
      [],
    );
  });

  it("hears a peripheral that starts advertising during the scan", async () => {
    const { clock, radio } = await air();
    const late = radio.createPeripheral({ id: "late" });
    const central = radio.createCentral();
    const scan = collect(clock, central.scan({ timeoutMs: 1000, filters: [{ namePrefix: "Late" }] }));
    await clock.advance(500);
    await late.startAdvertising({ serviceUuids: [], localName: "Late" });
    expect(await scan).toEqual(["late"]);
  });

  it("ends a scan with AbortedError on abort, and findPeripheral times out with a TimeoutError", async () => {
    const { clock, radio } = await air();
    const central = radio.createCentral();
    const controller = new AbortController();
    const iterator = central.scan({
      timeoutMs: 10_000,
      filters: [{ namePrefix: "none" }],
      signal: controller.signal,
    });
    const pending = (async () => {
      for await (const _ of iterator) throw new Error("unexpected advertisement");
    })();
    await clock.advance(100);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    await expect(
      clock.run(findPeripheral(central, { timeoutMs: 2000, filters: [{ namePrefix: "none" }] })),
    ).rejects.toBeInstanceOf(TimeoutError);
  });
});

describe("simulated radio: connections", () => {
  async function connected(options: { centralMtu?: number } = {}) {
    const setup = await air();
    const central = setup.radio.createCentral({ mtu: options.centralMtu ?? 185 });
    let server: GattServerConnection | undefined;
    setup.vehicle.onConnection((c) => {
      server = c;
    });
    const client = await setup.clock.run(central.connect("vehicle", { timeoutMs: 5000 }));
    return { ...setup, central, client, server: server! };
  }

  it("exchanges the MTU (the smaller side wins) and stops advertising while connected", async () => {
    const { client, server, radio, clock } = await connected({ centralMtu: 185 });
    expect(client.mtu).toBe(185);
    expect(server.mtu).toBe(185);
    expect(radio.peripheral("vehicle")?.advertising).toBeUndefined();
    await client.disconnect();
    await clock.advance(100);
    expect(radio.peripheral("vehicle")?.advertising?.localName).toBe("PK-VIN123");
  });

  it("needs discovery before writes, writes with response after two hops, rejects writes over MTU − 3", async () => {
    const { client, server, clock } = await connected();
    await expect(
      client.write(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, utf8("x")),
    ).rejects.toMatchObject({
      code: "NOT_DISCOVERED",
    });
    const services = await clock.run(client.discoverServices());
    expect(services.map((s) => s.uuid)).toEqual([OWNER_PAIRING_SERVICE]);
    const received: string[] = [];
    server.onWrite(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, (v) => {
      received.push(new TextDecoder().decode(v));
    });
    const start = clock.now();
    await clock.run(client.write(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, utf8("hello")));
    expect(clock.now() - start).toBe(60);
    expect(received).toEqual(["hello"]);
    const tooLong = client.write(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, new Uint8Array(183));
    await expect(tooLong).rejects.toMatchObject({ code: "VALUE_TOO_LONG", attError: 0x0d });
    await expect(
      client.write(OWNER_PAIRING_SERVICE, OWNER_STATUS_CHARACTERISTIC, new Uint8Array(1)),
    ).rejects.toBeInstanceOf(GattError);
  });

  it("returns the handler's ATT error to the central", async () => {
    const { client, server, clock } = await connected();
    await clock.run(client.discoverServices());
    server.onWrite(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, () => {
      throw new GattError("BAD", "no", { attError: 0x80 });
    });
    await expect(
      clock.run(client.write(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, utf8("x"))),
    ).rejects.toMatchObject({ code: "WRITE_REJECTED", attError: 0x80 });
  });

  it("notifies only after the CCCD is written, cuts notifications to MTU − 3, stops after unsubscribing", async () => {
    const { client, server, clock } = await connected({ centralMtu: 23 });
    await clock.run(client.discoverServices());
    await expect(
      server.notify(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, utf8("x")),
    ).rejects.toMatchObject({
      code: "NOT_SUBSCRIBED",
    });
    const changes: boolean[] = [];
    server.onSubscriptionChange((_s, _c, on) => changes.push(on));
    const got: number[] = [];
    const subscription = await clock.run(
      client.subscribe(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, (v) => got.push(v.length)),
    );
    expect(server.isSubscribed(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC)).toBe(true);
    await server.notify(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, new Uint8Array(40));
    await server.notify(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, new Uint8Array(5));
    await clock.advance(100);
    expect(got).toEqual([20, 5]);
    await clock.run(subscription.unsubscribe());
    expect(changes).toEqual([true, false]);
    await expect(
      server.notify(OWNER_PAIRING_SERVICE, OWNER_COMMAND_CHARACTERISTIC, new Uint8Array(1)),
    ).rejects.toMatchObject({ code: "NOT_SUBSCRIBED" });
  });

  it("reports a disconnect to both sides and fails pending requests", async () => {
    const { client, server, clock } = await connected();
    const causes: unknown[] = [];
    client.onDisconnect((c) => causes.push(c));
    server.onDisconnect((c) => causes.push(c));
    const discovery = client.discoverServices();
    discovery.catch(() => {});
    await clock.advance(10);
    await server.disconnect();
    await expect(clock.run(discovery)).rejects.toMatchObject({ code: "DISCONNECTED" });
    await clock.advance(100);
    expect(causes).toHaveLength(2);
    expect(causes.every((c) => c instanceof TransportError)).toBe(true);
    expect(client.connected).toBe(false);
    await expect(client.discoverServices()).rejects.toMatchObject({ code: "NOT_CONNECTED" });
  });

  it("times out connecting to a peripheral that does not advertise", async () => {
    const { clock, radio, vehicle } = await air();
    await vehicle.stopAdvertising();
    const central = radio.createCentral();
    await expect(clock.run(central.connect("vehicle", { timeoutMs: 5000 }))).rejects.toBeInstanceOf(
      TimeoutError,
    );
    await vehicle.startAdvertising({ serviceUuids: [] });
    await clock.advance(1000);
    expect(vehicle.advertising).toBeDefined();
  });
});
