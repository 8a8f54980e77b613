import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMaintenance } from "../src/maintenance.ts";
import { databaseBackends } from "./support/databases.ts";
import { FakeClock } from "./support/fake-clock.ts";
import { addOwnedVehicle, stateSnapshot } from "./support/fixtures.ts";
import { eventually } from "./support/pairing.ts";
import { connectVehicle, DEVICE_INFO, startTestServer, tokenFor } from "./support/server.ts";

const backends = await databaseBackends();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `expiry and load limits on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let app: FastifyInstance;
      const clock = new FakeClock(Date.now());

      beforeAll(async () => {
        app = await startTestServer(
          backend.fresh(),
          { DERIVATION_CONCURRENCY: "1", DERIVATION_QUEUE_MAX: "0" },
          { clock },
        );
      });
      afterAll(async () => {
        await app?.close();
        await backend.cleanup();
      });

      const post = (token: string, url: string, payload: object) =>
        app.inject({ method: "POST", url, headers: { authorization: `Bearer ${token}` }, payload });

      it("refuses an attempt after the password expired, changing nothing", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const issued = await post(token, "/pairing/password/request", {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
          });
          expect(issued.statusCode, issued.body).toBe(200);
          clock.advance(600_000);
          const fresh = await tokenFor(app, owner.userId);
          const before = await stateSnapshot(db);
          const late = await post(fresh, "/pairing/session/start", {
            sessionId: issued.json().sessionId,
            devicePublicInfo: {
              deviceNonce: Buffer.from(crypto.randomBytes(16)).toString("base64"),
              pointX: Buffer.from(crypto.generateKeyPair().publicKey).toString("base64"),
            },
          });
          expect(late.statusCode).toBe(410);
          expect(late.json()).toMatchObject({ code: "PAIRING_PASSWORD_EXPIRED" });
          expect(await stateSnapshot(db)).toEqual(before);
        } finally {
          await vehicle.client.close();
        }
      });

      it("maintenance expires stale sessions and re-sends unacknowledged revocations", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const issued = await post(token, "/pairing/password/request", {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
          });
          const { sessionId } = issued.json();
          // A key whose revocation was never acknowledged (say, the vehicle was offline).
          const transactionId = randomUUID();
          const keyId = randomUUID();
          const now = new Date(clock.now());
          await db
            .insertInto("pairingTransactions")
            .values({
              transactionId,
              sessionId,
              status: "configured",
              vehiclePublicKeyHash: "00",
              policyFlags: 3,
              deviceNonce: new Uint8Array(16),
              pointX: new Uint8Array(65),
              serverNonce: new Uint8Array(16),
              configDigest: "00",
              endpointHash: "11".repeat(16),
              createdAt: now,
            })
            .execute();
          await db
            .insertInto("digitalKeys")
            .values({
              keyId,
              vehicleId: owner.vehicleId,
              ownerUserId: owner.userId,
              role: "owner",
              state: "revoking",
              keyMaterialHash: "11".repeat(16),
              endpointPublicKey: null,
              transactionId,
              createdAt: now,
              revokedAt: null,
            })
            .execute();

          clock.advance(600_000);
          await runMaintenance(app.services);
          const session = await db
            .selectFrom("pairingSessions")
            .select(["status", "failureCode"])
            .where("sessionId", "=", sessionId)
            .executeTakeFirstOrThrow();
          expect(session).toEqual({ status: "expired", failureCode: "PAIRING_PASSWORD_EXPIRED" });
          for (let i = 0; i < 200; i++) {
            const key = await db
              .selectFrom("digitalKeys")
              .select("state")
              .where("keyId", "=", keyId)
              .executeTakeFirstOrThrow();
            if (key.state === "revoked") break;
            await new Promise((resolve) => setTimeout(resolve, 25));
          }
          expect(vehicle.revocations.map((r) => r.keyId)).toContain(keyId);
          expect(
            (
              await db
                .selectFrom("digitalKeys")
                .select("state")
                .where("keyId", "=", keyId)
                .executeTakeFirstOrThrow()
            ).state,
          ).toBe("revoked");
        } finally {
          await vehicle.client.close();
        }
      });

      it("maintenance closes deliveries a crashed replica left pending: the provision's session fails, the revocation is re-sent", async () => {
        const { db, crypto, config } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          // What a replica leaves behind when it stops while waiting for the vehicle's acks.
          const now = new Date(clock.now());
          const sessionId = randomUUID();
          await db
            .insertInto("pairingSessions")
            .values({
              sessionId,
              userId: owner.userId,
              vehicleId: owner.vehicleId,
              status: "provisioning",
              channel: "app",
              issuedAt: now,
              expiresAt: new Date(now.getTime() + 3_600_000),
              maxAttempts: 5,
              scryptConfig: JSON.stringify(config.pairing.scrypt),
              salt: new Uint8Array(16),
              replaceExisting: false,
              deviceInfo: JSON.stringify(DEVICE_INFO),
              failureCode: null,
            })
            .execute();
          const transactionId = randomUUID();
          await db
            .insertInto("pairingTransactions")
            .values({
              transactionId,
              sessionId,
              status: "configured",
              vehiclePublicKeyHash: "00",
              policyFlags: 3,
              deviceNonce: new Uint8Array(16),
              pointX: new Uint8Array(65),
              serverNonce: new Uint8Array(16),
              configDigest: "00",
              endpointHash: "22".repeat(16),
              createdAt: now,
            })
            .execute();
          const keyId = randomUUID();
          await db
            .insertInto("digitalKeys")
            .values({
              keyId,
              vehicleId: owner.vehicleId,
              ownerUserId: owner.userId,
              role: "owner",
              state: "revoking",
              keyMaterialHash: "22".repeat(16),
              endpointPublicKey: null,
              transactionId,
              createdAt: now,
              revokedAt: null,
            })
            .execute();
          const provisionId = randomUUID();
          const revokeId = randomUUID();
          const pending = {
            vehicleId: owner.vehicleId,
            status: "pending",
            sentAt: now,
            answeredAt: null,
          } as const;
          await db
            .insertInto("verifierDeliveries")
            .values([
              { ...pending, deliveryId: provisionId, kind: "provision", sessionId, keyId: null },
              { ...pending, deliveryId: revokeId, kind: "revoke", sessionId: null, keyId },
            ])
            .execute();

          // Within the ack wait nothing is touched: the waiter may still be there.
          expect(await runMaintenance(app.services)).toMatchObject({ deliveriesClosed: 0 });
          clock.advance(2 * config.pairing.vehicleAckTimeoutMs + 1);
          expect(await runMaintenance(app.services)).toMatchObject({ deliveriesClosed: 2 });

          const deliveries = await db
            .selectFrom("verifierDeliveries")
            .select(["deliveryId", "status"])
            .where("deliveryId", "in", [provisionId, revokeId])
            .orderBy("kind")
            .execute();
          expect(deliveries).toEqual([
            { deliveryId: provisionId, status: "timeout" },
            { deliveryId: revokeId, status: "timeout" },
          ]);
          const session = await db
            .selectFrom("pairingSessions")
            .select(["status", "failureCode"])
            .where("sessionId", "=", sessionId)
            .executeTakeFirstOrThrow();
          expect(session).toEqual({ status: "failed", failureCode: "VEHICLE_OFFLINE" });
          const audit = await db
            .selectFrom("auditLog")
            .select(["event", "actor"])
            .where("sessionId", "=", sessionId)
            .execute();
          expect(audit).toEqual([{ event: "pairing.verifier_not_acknowledged", actor: "system" }]);
          await eventually(async () => vehicle.revocations.some((r) => r.keyId === keyId));
          expect(await runMaintenance(app.services)).toMatchObject({ deliveriesClosed: 0 });
        } finally {
          await vehicle.client.close();
        }
      });

      it("answers 503 SERVER_BUSY with Retry-After when the derivation queue is full, changing nothing", async () => {
        const { db, crypto, derivation } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        let release!: () => void;
        // Occupy the only slot (concurrency 1, queue 0) with a job that waits for the test.
        const occupied = derivation.run(() => new Promise<void>((resolve) => (release = resolve)));
        try {
          const before = await stateSnapshot(db);
          const busy = await post(token, "/pairing/password/request", {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
          });
          expect(busy.statusCode).toBe(503);
          expect(busy.json()).toMatchObject({ code: "SERVER_BUSY" });
          expect(Number(busy.headers["retry-after"])).toBeGreaterThanOrEqual(1);
          expect(await stateSnapshot(db)).toEqual(before);
          const metrics = (await app.inject({ url: "/metrics" })).body;
          expect(metrics).toMatch(/pairkit_password_derivations_running 1/);
          expect(metrics).toMatch(/pairkit_password_requests_total\{outcome="SERVER_BUSY"\} 1/);
        } finally {
          release();
          await occupied;
        }
      });

      it("a 503 SERVER_BUSY does not spend the owner's hourly password quota", async () => {
        const { db, crypto, derivation, config } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        let release!: () => void;
        const occupied = derivation.run(() => new Promise<void>((resolve) => (release = resolve)));
        try {
          for (let i = 0; i < config.pairing.requestsPerHour + 1; i++) {
            const busy = await post(token, "/pairing/password/request", {
              vehicleId: owner.vehicleId,
              deviceInfo: DEVICE_INFO,
            });
            expect(busy.json()).toMatchObject({ code: "SERVER_BUSY" });
          }
          release();
          await occupied;
          const issued = await post(token, "/pairing/password/request", {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
          });
          expect(issued.statusCode, issued.body).toBe(200);
        } finally {
          release();
          await occupied;
          await vehicle.client.close();
        }
      });
    },
  );
}
