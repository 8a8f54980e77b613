import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VehicleLinkClient } from "../src/vehicle-link/vehicle-link-client.ts";
import { databaseBackends } from "./support/databases.ts";
import { stateSnapshot } from "./support/fixtures.ts";
import { DEVICE_INFO, startTestServer, tokenFor } from "./support/server.ts";

const backends = await databaseBackends();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `phase 0 registration on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let app: FastifyInstance;
      beforeAll(async () => {
        app = await startTestServer(backend.fresh());
      });
      afterAll(async () => {
        await app?.close();
        await backend.cleanup();
      });
      const call = (token: string, method: "POST" | "PUT", url: string, payload: object) =>
        app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, payload });

      it("registers a user, a vehicle, its owner and subscription; the owner can then pair", async () => {
        const admin = await tokenFor(app, "erin");
        const identity = app.services.crypto.generateKeyPair().publicKey;
        expect(
          (
            await call(admin, "POST", "/admin/users", {
              id: "frank",
              email: "frank@example.com",
              displayName: "Frank",
              role: "customer",
            })
          ).statusCode,
        ).toBe(201);
        const vehicle = await call(admin, "POST", "/admin/vehicles", {
          id: "VH-REG-1",
          vin: "WPKREG00000000001",
          model: "Registered",
          identityPublicKey: Buffer.from(identity).toString("base64"),
          policyFlags: 1,
        });
        expect(vehicle.statusCode, vehicle.body).toBe(201);
        const { mqttUrl, password } = vehicle.json();
        expect(
          (await call(admin, "POST", "/admin/vehicles/VH-REG-1/owners", { userId: "frank", pin: "97531" }))
            .statusCode,
        ).toBe(201);
        const until = new Date(Date.now() + 86_400_000).toISOString();
        expect(
          (
            await call(admin, "PUT", "/admin/vehicles/VH-REG-1/subscription", {
              userId: "frank",
              validUntil: until,
            })
          ).statusCode,
        ).toBe(200);

        const link = await VehicleLinkClient.connect(
          { url: mqttUrl, vehicleId: "VH-REG-1", password },
          { onProvision: () => {}, onRevoke: () => {} },
        );
        try {
          const issued = await call(await tokenFor(app, "frank"), "POST", "/pairing/password/request", {
            vehicleId: "VH-REG-1",
            deviceInfo: DEVICE_INFO,
          });
          expect(issued.statusCode, issued.body).toBe(200);
        } finally {
          await link.close();
        }
        const duplicate = await call(admin, "POST", "/admin/users", {
          id: "frank",
          email: "frank2@example.com",
          displayName: "F",
          role: "customer",
        });
        expect(duplicate.json()).toMatchObject({ code: "BAD_REQUEST" });
        const unknown = await call(admin, "POST", "/admin/vehicles/VH-REG-1/owners", {
          userId: "nobody",
          pin: "1234",
        });
        expect(unknown.json()).toMatchObject({ code: "NOT_FOUND" });
      });

      it("refuses every registration call to non-administrators, changing nothing", async () => {
        const before = await stateSnapshot(app.services.db);
        for (const user of ["alice", "carol"]) {
          const token = await tokenFor(app, user);
          const attempts = [
            call(token, "POST", "/admin/users", {
              id: "mallory",
              email: "m@example.com",
              displayName: "M",
              role: "admin",
            }),
            call(token, "PUT", "/admin/vehicles/VH-DEMO-1/subscription", {
              userId: user,
              validUntil: new Date().toISOString(),
            }),
            call(token, "POST", "/admin/vehicles/VH-DEMO-1/owners", { userId: user, pin: "1234" }),
          ];
          for (const response of await Promise.all(attempts)) {
            expect(response.statusCode).toBe(403);
            expect(response.json()).toMatchObject({ code: "FORBIDDEN" });
          }
        }
        expect(await stateSnapshot(app.services.db)).toEqual(before);
        const mallory = await app.services.db
          .selectFrom("users")
          .select("id")
          .where("id", "=", "mallory")
          .executeTakeFirst();
        expect(mallory).toBeUndefined();
      });
    },
  );
}
