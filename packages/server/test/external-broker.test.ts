import { createConnection } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVER_MQTT_USERNAME } from "../src/vehicle-link/embedded-broker.ts";
import type { ProvisionMessage } from "../src/vehicle-link/messages.ts";
import { VehicleLinkClient } from "../src/vehicle-link/vehicle-link-client.ts";
import { MOSQUITTO_SKIP, type MosquittoBroker, startMosquitto } from "./support/brokers.ts";
import { addOwnedVehicle } from "./support/fixtures.ts";
import { DEVICE_INFO, startTestServer, tokenFor } from "./support/server.ts";

const SYSTEM_BROKER = "mqtt://127.0.0.1:1883";
const systemBrokerUp = await new Promise<boolean>((resolve) => {
  const socket = createConnection({ host: "127.0.0.1", port: 1883 });
  socket.once("connect", () => {
    socket.destroy();
    resolve(true);
  });
  socket.once("error", () => resolve(false));
});

interface ExternalBroker {
  readonly url: string;
  /** Credentials the broker accepts: the server's, and the vehicles' by id. */
  readonly serverPassword: string | undefined;
  readonly vehiclePassword: string;
  stop(): Promise<void>;
}

const VEHICLE_PASSWORD = "vehicle-password-in-the-broker-file";

const setups: {
  name: string;
  skip: string | undefined;
  start: (vehicleIds: string[]) => Promise<ExternalBroker>;
}[] = [
  {
    name: "a private Mosquitto with password file and ACL",
    skip: MOSQUITTO_SKIP,
    async start(vehicleIds) {
      const serverPassword = "server-password-for-mosquitto";
      const broker: MosquittoBroker = await startMosquitto({
        [SERVER_MQTT_USERNAME]: serverPassword,
        ...Object.fromEntries(vehicleIds.map((id) => [id, VEHICLE_PASSWORD])),
      });
      return {
        url: broker.url,
        serverPassword,
        vehiclePassword: VEHICLE_PASSWORD,
        stop: () => broker.stop(),
      };
    },
  },
  {
    name: `the system Mosquitto at ${SYSTEM_BROKER} (no ACL there)`,
    skip: systemBrokerUp ? undefined : `nothing listening at ${SYSTEM_BROKER}`,
    async start() {
      return {
        url: SYSTEM_BROKER,
        serverPassword: undefined,
        vehiclePassword: "ignored",
        stop: async () => {},
      };
    },
  },
];

for (const setup of setups) {
  describe.skipIf(setup.skip !== undefined)(
    `server with an external broker: ${setup.name}${setup.skip ? ` (skipped: ${setup.skip})` : ""}`,
    () => {
      let broker: ExternalBroker;
      let app: FastifyInstance;
      // Unique per run: the system broker is shared with other processes.
      const vehicleId = `VH-EXT-${process.pid}-${Date.now()}`;

      beforeAll(async () => {
        broker = await setup.start([vehicleId]);
        app = await startTestServer(
          { kind: "pglite", dataDir: undefined },
          {
            MQTT_URL: broker.url,
            ...(broker.serverPassword
              ? { MQTT_USERNAME: SERVER_MQTT_USERNAME, MQTT_PASSWORD: broker.serverPassword }
              : {}),
          },
        );
      });
      afterAll(async () => {
        await app?.close();
        await broker?.stop();
      });

      it("provisions a verifier to a vehicle connected to the external broker", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto, { vehicleId });

        const received: ProvisionMessage[] = [];
        const vehicle = await VehicleLinkClient.connect(
          { url: broker.url, vehicleId, password: broker.vehiclePassword },
          { onProvision: (m) => void received.push(m), onRevoke: () => {} },
        );
        try {
          const response = await app.inject({
            method: "POST",
            url: "/pairing/password/request",
            headers: { authorization: `Bearer ${await tokenFor(app, owner.userId)}` },
            payload: { vehicleId, deviceInfo: DEVICE_INFO },
          });
          expect(response.statusCode, response.body).toBe(200);
          expect(received.map((m) => m.sessionId)).toEqual([response.json().sessionId]);
          expect((await app.inject({ url: "/readyz" })).statusCode).toBe(200);
        } finally {
          await vehicle.close();
        }
      });
    },
  );
}
