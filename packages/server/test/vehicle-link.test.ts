import { randomUUID } from "node:crypto";
import { constantTimeEqual, systemClock, utf8 } from "@pairkit/core";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVER_MQTT_USERNAME, startEmbeddedBroker } from "../src/vehicle-link/embedded-broker.ts";
import { type EventMessage, type ProvisionMessage, topics } from "../src/vehicle-link/messages.ts";
import { ServerVehicleLink, VehicleOfflineError } from "../src/vehicle-link/server-link.ts";
import { VehicleLinkClient } from "../src/vehicle-link/vehicle-link-client.ts";
import { MOSQUITTO_SKIP, startMosquitto } from "./support/brokers.ts";
import { FakeClock } from "./support/fake-clock.ts";

const SERVER_PASSWORD = "server-secret-0123456789";
const VEHICLES: Record<string, string> = { "VH-A": "password-of-a-0123", "VH-B": "password-of-b-4567" };

interface BrokerSetup {
  readonly url: string;
  stop(): Promise<void>;
}

const setups: { name: string; skip: string | undefined; start: () => Promise<BrokerSetup> }[] = [
  {
    name: "embedded aedes",
    skip: undefined,
    async start() {
      const broker = await startEmbeddedBroker({
        host: "127.0.0.1",
        port: 0,
        serverPassword: SERVER_PASSWORD,
        async authenticateVehicle(vehicleId, password) {
          const expected = VEHICLES[vehicleId];
          return expected !== undefined && constantTimeEqual(password, utf8(expected));
        },
      });
      return { url: broker.url, stop: () => broker.close() };
    },
  },
  {
    name: "mosquitto with password file and ACL",
    skip: MOSQUITTO_SKIP,
    async start() {
      const broker = await startMosquitto({ [SERVER_MQTT_USERNAME]: SERVER_PASSWORD, ...VEHICLES });
      return { url: broker.url, stop: () => broker.stop() };
    },
  },
];

let nextSeq = 1;
function provisionMessage(): ProvisionMessage {
  return {
    deliveryId: randomUUID(),
    sessionId: randomUUID(),
    seq: nextSeq++,
    salt: Buffer.alloc(16, 1).toString("base64"),
    scrypt: { N: 32768, r: 8, p: 1 },
    w0: Buffer.alloc(32, 2).toString("base64"),
    L: Buffer.concat([Buffer.of(4), Buffer.alloc(64, 3)]).toString("base64"),
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
    maxAttempts: 5,
  };
}

/** A raw client with a vehicle's credential, to try what the ACL must refuse. */
async function rawVehicleClient(url: string, vehicleId: string) {
  const client = await mqtt.connectAsync(url, {
    clientId: `vehicle-${vehicleId}`,
    username: vehicleId,
    password: VEHICLES[vehicleId],
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  return client;
}

for (const setup of setups) {
  describe.skipIf(setup.skip !== undefined)(
    `vehicle link over ${setup.name}${setup.skip ? ` (skipped: ${setup.skip})` : ""}`,
    () => {
      let broker: BrokerSetup;
      let server: ServerVehicleLink;
      const events: [string, EventMessage][] = [];
      const eventWaiters: (() => void)[] = [];

      beforeAll(async () => {
        broker = await setup.start();
        server = await ServerVehicleLink.connect({
          url: broker.url,
          username: SERVER_MQTT_USERNAME,
          password: SERVER_PASSWORD,
          clock: systemClock,
          async onEvent(vehicleId, event) {
            events.push([vehicleId, event]);
            for (const wake of eventWaiters.splice(0)) wake();
          },
          onWarning() {},
        });
      });
      afterAll(async () => {
        await server?.close();
        await broker?.stop();
      });

      async function nextEvent(
        predicate: (e: [string, EventMessage]) => boolean,
      ): Promise<[string, EventMessage]> {
        for (;;) {
          const found = events.find(predicate);
          if (found) return found;
          await new Promise<void>((resolve) => eventWaiters.push(resolve));
        }
      }

      it("delivers a verifier, the vehicle acks it, and its events reach the server", async () => {
        const received: ProvisionMessage[] = [];
        const vehicle = await VehicleLinkClient.connect(
          { url: broker.url, vehicleId: "VH-A", password: VEHICLES["VH-A"]! },
          { onProvision: (m) => void received.push(m), onRevoke: () => {} },
        );
        try {
          const message = provisionMessage();
          const ack = await server.provision("VH-A", message, 10_000);
          expect(ack).toEqual({ deliveryId: message.deliveryId, status: "ok" });
          expect(received).toEqual([message]);

          await vehicle.publishEvent({ type: "locked", sessionId: message.sessionId });
          const [vehicleId, event] = await nextEvent(
            ([, e]) => e.type === "locked" && e.sessionId === message.sessionId,
          );
          expect(vehicleId).toBe("VH-A");
          expect(event.eventId).toMatch(/^[0-9a-f-]{36}$/);
        } finally {
          await vehicle.close();
        }
      });

      it("handles an event again after its handling failed, until it succeeds", async () => {
        const runs: string[] = [];
        const warnings: string[] = [];
        let handled: (event: EventMessage) => void = () => {};
        const done = new Promise<EventMessage>((resolve) => {
          handled = resolve;
        });
        const replica = await ServerVehicleLink.connect({
          url: broker.url,
          username: SERVER_MQTT_USERNAME,
          password: SERVER_PASSWORD,
          clock: systemClock,
          async onEvent(_vehicleId, event) {
            runs.push(event.eventId);
            if (runs.length < 3) throw new Error("database unavailable");
            handled(event);
          },
          onWarning: (message) => void warnings.push(message),
        });
        const vehicle = await VehicleLinkClient.connect(
          { url: broker.url, vehicleId: "VH-B", password: VEHICLES["VH-B"]! },
          { onProvision: () => {}, onRevoke: () => {} },
        );
        try {
          const sessionId = randomUUID();
          await vehicle.publishEvent({ type: "locked", sessionId });
          expect(await done).toMatchObject({ type: "locked", sessionId });
          expect(new Set(runs).size).toBe(1);
          expect(runs).toHaveLength(3);
          expect(warnings).toEqual([
            "handling locked failed (run 1); handling it again in 100 ms",
            "handling locked failed (run 2); handling it again in 200 ms",
          ]);
        } finally {
          await vehicle.close();
          await replica.close();
        }
      });

      it("reports a handler failure as a rejected ack carrying only the error code", async () => {
        const vehicle = await VehicleLinkClient.connect(
          { url: broker.url, vehicleId: "VH-A", password: VEHICLES["VH-A"]! },
          {
            onProvision: () => {
              throw new Error("secret internal state");
            },
            onRevoke: () => {},
          },
        );
        try {
          const ack = await server.provision("VH-A", provisionMessage(), 10_000);
          expect(ack).toMatchObject({ status: "rejected", reason: "ERROR" });
        } finally {
          await vehicle.close();
        }
      });

      it("refuses a verifier older than the one the vehicle holds", async () => {
        const received: ProvisionMessage[] = [];
        const vehicle = await VehicleLinkClient.connect(
          { url: broker.url, vehicleId: "VH-A", password: VEHICLES["VH-A"]! },
          { onProvision: (m) => void received.push(m), onRevoke: () => {} },
        );
        try {
          const older = provisionMessage();
          const newer = provisionMessage();
          expect((await server.provision("VH-A", newer, 10_000)).status).toBe("ok");
          expect(await server.provision("VH-A", older, 10_000)).toMatchObject({
            status: "rejected",
            reason: "STALE_VERIFIER",
          });
          expect(received).toEqual([newer]);
          expect(vehicle.verifierSeq).toBe(newer.seq);
        } finally {
          await vehicle.close();
        }
      });

      it("refuses a wrong vehicle password", async () => {
        await expect(
          mqtt.connectAsync(broker.url, {
            clientId: "vehicle-VH-A",
            username: "VH-A",
            password: "wrong",
            reconnectPeriod: 0,
          }),
        ).rejects.toThrow();
      });

      it("never lets a vehicle read another vehicle's deliveries, whatever it subscribes to", async () => {
        const attacker = await rawVehicleClient(broker.url, "VH-B");
        const stolen: string[] = [];
        attacker.on("message", (topic) => stolen.push(topic));
        const vehicle = await VehicleLinkClient.connect(
          { url: broker.url, vehicleId: "VH-A", password: VEHICLES["VH-A"]! },
          { onProvision: () => {}, onRevoke: () => {} },
        );
        try {
          for (const topic of [
            "vehicles/VH-A/down/#",
            "vehicles/+/down/#",
            "#",
            "vehicles/VH-A/#",
            "vehicles/VH-B/up/#",
          ]) {
            // aedes answers SUBACK 0x80 (mqtt.js rejects); Mosquitto 2 grants and filters on delivery.
            await attacker.subscribeAsync(topic, { qos: 1 }).catch((error: Error) => {
              expect(error.message).toMatch(/Subscribe error/);
            });
          }
          await attacker.subscribeAsync("vehicles/VH-B/down/#", { qos: 1 });
          const ack = await server.provision("VH-A", provisionMessage(), 10_000);
          expect(ack.status).toBe("ok");
          // A delivery to the attacker's own prefix proves its connection still receives.
          const own = await server.provision("VH-B", provisionMessage(), 500).catch(() => undefined);
          expect(own).toBeUndefined();
          expect(stolen).toEqual([topics.provision("VH-B")]);
        } finally {
          await vehicle.close();
          await attacker.endAsync();
        }
      });

      it("drops what a vehicle publishes on another vehicle's topic", async () => {
        const attacker = await rawVehicleClient(broker.url, "VH-B");
        const forged = { type: "locked", eventId: randomUUID(), sessionId: randomUUID() };
        // aedes closes the connection; Mosquitto acknowledges and discards. Either way, wait for it.
        await Promise.race([
          attacker.publishAsync(topics.event("VH-A"), JSON.stringify(forged), { qos: 1 }).catch(() => {}),
          new Promise<void>((resolve) => attacker.once("close", () => resolve())),
        ]);
        attacker.end(true);

        const vehicle = await VehicleLinkClient.connect(
          { url: broker.url, vehicleId: "VH-A", password: VEHICLES["VH-A"]! },
          { onProvision: () => {}, onRevoke: () => {} },
        );
        try {
          const sentinel = randomUUID();
          await vehicle.publishEvent({ type: "locked", sessionId: sentinel });
          await nextEvent(([, e]) => e.type === "locked" && e.sessionId === sentinel);
          expect(events.some(([, e]) => e.eventId === forged.eventId)).toBe(false);
        } finally {
          await vehicle.close();
        }
      });

      it("ignores an ack for one vehicle's delivery published by another vehicle", async () => {
        const clock = new FakeClock();
        const link = await ServerVehicleLink.connect({
          url: broker.url,
          username: SERVER_MQTT_USERNAME,
          password: SERVER_PASSWORD,
          clock,
          onEvent: async () => {},
          onWarning() {},
        });
        try {
          const message = provisionMessage();
          const pending = link.provision("VH-A", message, 5000);
          // VH-B acks VH-A's delivery id on its own topic: the server must not take it.
          const raw = await rawVehicleClient(broker.url, "VH-B");
          await raw.publishAsync(
            topics.ack("VH-B"),
            JSON.stringify({ deliveryId: message.deliveryId, status: "ok" }),
            { qos: 1 },
          );
          await raw.endAsync();
          await new Promise((resolve) => setTimeout(resolve, 200));
          clock.advance(5000);
          await expect(pending).rejects.toBeInstanceOf(VehicleOfflineError);
        } finally {
          await link.close();
        }
      });
    },
  );
}
