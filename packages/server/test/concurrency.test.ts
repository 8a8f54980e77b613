import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/audit/audit-log.ts";
import { openDatabase } from "../src/db/database.ts";
import { runTransaction } from "../src/db/transaction.ts";
import { requestKeyRevocation } from "../src/keys/revocation.ts";
import { runMaintenance } from "../src/maintenance.ts";
import { handleVehicleEvent } from "../src/pairing/vehicle-events.ts";
import { databaseBackends } from "./support/databases.ts";
import { addOwnedVehicle } from "./support/fixtures.ts";
import { b64, call, eventually } from "./support/pairing.ts";
import { connectVehicle, DEVICE_INFO, startTestServer, tokenFor } from "./support/server.ts";

const backends = await databaseBackends();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `concurrent transactions on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let app: FastifyInstance;
      beforeAll(async () => {
        app = await startTestServer(backend.fresh(), { PAIRING_MAX_ATTEMPTS: "20" });
      });
      afterAll(async () => {
        await app?.close();
        await backend.cleanup();
      });

      it("session starts racing the vehicle's attempt_failed events: no 5xx, every event in state and audit", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const issued = await call(app, token, "/pairing/password/request", {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
          });
          expect(issued.statusCode, issued.body).toBe(200);
          const { sessionId } = issued.json();

          const start = () =>
            call(app, token, "/pairing/session/start", {
              sessionId,
              devicePublicInfo: {
                deviceNonce: b64(crypto.randomBytes(16)),
                pointX: b64(crypto.generateKeyPair().publicKey),
              },
            });
          const remaining = Array.from({ length: 30 }, (_, i) => 19 - (i % 20));
          const [starts] = await Promise.all([
            Promise.all(Array.from({ length: 60 }, start)),
            Promise.all(
              remaining.map((remainingAttempts) =>
                vehicle.client.publishEvent({ type: "attempt_failed", sessionId, remainingAttempts }),
              ),
            ),
          ]);

          const statuses = starts.map((r) => r.statusCode);
          expect(statuses.filter((s) => s >= 500)).toEqual([]);
          expect(new Set(statuses)).toEqual(new Set([200, 423]));

          const audited = async (event: string) =>
            db
              .selectFrom("auditLog")
              .select("detail")
              .where("sessionId", "=", sessionId)
              .where("event", "=", event)
              .execute();
          // Every event is handled (none dropped): one audit entry per eventId.
          await eventually(async () => (await audited("pairing.attempt_failed")).length >= remaining.length);
          const failed = await audited("pairing.attempt_failed");
          expect(new Set(failed.map((e) => e.detail.eventId)).size).toBe(remaining.length);
          const started = await audited("pairing.attempt_started");
          expect(started).toHaveLength(statuses.filter((s) => s === 200).length);

          const session = await db
            .selectFrom("pairingSessions")
            .select(["attemptCount", "maxAttempts"])
            .where("sessionId", "=", sessionId)
            .executeTakeFirstOrThrow();
          // The vehicle's highest count (20 − 0) and the server's own count both hold, capped at the budget.
          expect(session.attemptCount).toBe(session.maxAttempts);
          expect(await verifyAuditChain(db, crypto)).toMatchObject({ ok: true });
        } finally {
          await vehicle.client.close();
        }
      });

      it("counts one attempt once when the vehicle's report lands before the device's late start", async () => {
        // A phone with a wrong password fails the confirmation while its /pairing/session/start is
        // still in flight (owner-pairing.ts awaits it only on success): the vehicle's attempt_failed
        // can reach the server first (the extra attempt once seen in sim/test/vehicle/server-e2e).
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const issued = await call(app, token, "/pairing/password/request", {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
          });
          const { sessionId, maxAttempts } = issued.json();
          const report = { type: "attempt_failed", sessionId, remainingAttempts: maxAttempts - 1 } as const;
          await handleVehicleEvent(app.services, owner.vehicleId, { ...report, eventId: randomUUID() });
          const start = () =>
            call(app, token, "/pairing/session/start", {
              sessionId,
              devicePublicInfo: {
                deviceNonce: b64(crypto.randomBytes(16)),
                pointX: b64(crypto.generateKeyPair().publicKey),
              },
            });
          const late = await start();
          expect(late.json()).toMatchObject({ remainingAttempts: maxAttempts - 1 });
          // The next attempt is a new one: counted, and the vehicle's report of it changes nothing more.
          const next = await start();
          expect(next.json()).toMatchObject({ remainingAttempts: maxAttempts - 2 });
          await handleVehicleEvent(app.services, owner.vehicleId, {
            ...report,
            remainingAttempts: maxAttempts - 2,
            eventId: randomUUID(),
          });
          const session = await db
            .selectFrom("pairingSessions")
            .select("attemptCount")
            .where("sessionId", "=", sessionId)
            .executeTakeFirstOrThrow();
          expect(session.attemptCount).toBe(2);
        } finally {
          await vehicle.client.close();
        }
      });

      it("applies one event once when every replica handles it at the same moment", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const issued = await call(app, token, "/pairing/password/request", {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
          });
          const { sessionId } = issued.json();
          const event = {
            type: "attempt_failed",
            eventId: randomUUID(),
            sessionId,
            remainingAttempts: 17,
          } as const;
          await Promise.all(
            Array.from({ length: 8 }, () => handleVehicleEvent(app.services, owner.vehicleId, event)),
          );
          const entries = await db
            .selectFrom("auditLog")
            .select("detail")
            .where("sessionId", "=", sessionId)
            .where("event", "=", "pairing.attempt_failed")
            .execute();
          expect(entries).toEqual([
            { detail: expect.objectContaining({ eventId: event.eventId, applied: true }) },
          ]);
          const session = await db
            .selectFrom("pairingSessions")
            .select("attemptCount")
            .where("sessionId", "=", sessionId)
            .executeTakeFirstOrThrow();
          expect(session.attemptCount).toBe(3);
        } finally {
          await vehicle.client.close();
        }
      });

      it("upkeep expiry, revocations and vehicle events on the same rows: all commit, each once", async () => {
        const { db, crypto } = app.services;
        const past = new Date(Date.now() - 60_000);
        const rows = await Promise.all(
          Array.from({ length: 16 }, async () => {
            const owner = await addOwnedVehicle(db, crypto);
            const sessionId = randomUUID();
            const transactionId = randomUUID();
            const keyId = randomUUID();
            await db
              .insertInto("pairingSessions")
              .values({
                sessionId,
                userId: owner.userId,
                vehicleId: owner.vehicleId,
                status: "open",
                channel: "app",
                issuedAt: past,
                expiresAt: past,
                maxAttempts: 5,
                scryptConfig: JSON.stringify({ N: 1024, r: 8, p: 1 }),
                salt: new Uint8Array(16),
                replaceExisting: false,
                deviceInfo: JSON.stringify(DEVICE_INFO),
                failureCode: null,
              })
              .execute();
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
                endpointHash: "33".repeat(16),
                createdAt: past,
              })
              .execute();
            await db
              .insertInto("digitalKeys")
              .values({
                keyId,
                vehicleId: owner.vehicleId,
                ownerUserId: owner.userId,
                role: "owner",
                state: "active",
                keyMaterialHash: "33".repeat(16),
                endpointPublicKey: null,
                transactionId,
                createdAt: past,
                revokedAt: null,
              })
              .execute();
            return { ...owner, sessionId, keyId };
          }),
        );
        const events = rows.flatMap(({ vehicleId, sessionId, keyId }) => [
          { vehicleId, event: { type: "locked", eventId: randomUUID(), sessionId } as const },
          {
            vehicleId,
            event: {
              type: "attempt_failed",
              eventId: randomUUID(),
              sessionId,
              remainingAttempts: 1,
            } as const,
          },
          {
            vehicleId,
            event: {
              type: "endpoint_revoked",
              eventId: randomUUID(),
              keyId,
              endpointIdHash: "33".repeat(16),
            } as const,
          },
        ]);
        // The vehicles' events, two replicas' upkeep and owners revoking their keys, all at once
        // (events first: the old handler took the audit head before the rows upkeep locks).
        await Promise.all([
          ...events.map(({ vehicleId, event }) => handleVehicleEvent(app.services, vehicleId, event)),
          runMaintenance(app.services),
          runMaintenance(app.services),
          ...rows.map(({ userId, keyId }) =>
            requestKeyRevocation(app.services, { keyId, ownerUserId: userId, actor: `user:${userId}` }).catch(
              (error: unknown) => {
                // The vehicle's endpoint_revoked may have revoked it first.
                expect(error).toMatchObject({ code: "KEY_NOT_ACTIVE" });
              },
            ),
          ),
        ]);

        const audited = await db
          .selectFrom("auditLog")
          .select(["event", "sessionId", "keyId", "detail"])
          .where(
            "vehicleId",
            "in",
            rows.map((r) => r.vehicleId),
          )
          .execute();
        for (const { event } of events) {
          expect(audited.filter((a) => a.detail.eventId === event.eventId)).toHaveLength(1);
        }
        for (const { sessionId, keyId } of rows) {
          const session = await db
            .selectFrom("pairingSessions")
            .select(["status", "failureCode"])
            .where("sessionId", "=", sessionId)
            .executeTakeFirstOrThrow();
          // Whoever came first ended the session; the other recorded that it changed nothing.
          const ended = audited.filter(
            (a) =>
              a.sessionId === sessionId &&
              (a.event === "pairing.expired" || (a.event === "pairing.locked" && a.detail.applied === true)),
          );
          expect(ended).toHaveLength(1);
          expect(session.status).toBe(ended[0]!.event === "pairing.expired" ? "expired" : "failed");
          const key = await db
            .selectFrom("digitalKeys")
            .select("state")
            .where("keyId", "=", keyId)
            .executeTakeFirstOrThrow();
          expect(key.state).toBe("revoked");
        }
        expect(await verifyAuditChain(db, crypto)).toMatchObject({ ok: true });
      });
    },
  );
}

const postgres = backends.find((b) => b.name === "postgres")!;

// PGlite has one connection, so its transactions never interleave and cannot deadlock.
describe.skipIf(postgres.skip !== undefined)("transaction retry on postgres", () => {
  afterAll(() => postgres.cleanup());

  it("re-runs the transaction PostgreSQL aborted to break a deadlock, so both commit", async () => {
    const db = await openDatabase(postgres.fresh());
    try {
      const windowStart = new Date();
      await db
        .insertInto("rateLimits")
        .values([
          { bucket: "a", windowStart, count: 0 },
          { bucket: "b", windowStart, count: 0 },
        ])
        .execute();
      const bump = (tx: Parameters<Parameters<typeof runTransaction>[1]>[0], bucket: string) =>
        tx
          .updateTable("rateLimits")
          .set((eb) => ({ count: eb("count", "+", 1) }))
          .where("bucket", "=", bucket)
          .execute();
      // Both first runs hold their first row before either asks for its second: a lock cycle.
      let holding = 0;
      let release: () => void = () => {};
      const bothHolding = new Promise<void>((resolve) => {
        release = resolve;
      });
      let runs = 0;
      const crossing = (first: string, second: string) =>
        runTransaction(db, async (tx) => {
          runs++;
          await bump(tx, first);
          if (++holding === 2) release();
          await bothHolding;
          await bump(tx, second);
        });
      await Promise.all([crossing("a", "b"), crossing("b", "a")]);
      expect(runs).toBe(3);
      const counts = await db
        .selectFrom("rateLimits")
        .select(["bucket", "count"])
        .orderBy("bucket")
        .execute();
      expect(counts).toEqual([
        { bucket: "a", count: 2 },
        { bucket: "b", count: 2 },
      ]);
    } finally {
      await db.destroy();
    }
  });
});
