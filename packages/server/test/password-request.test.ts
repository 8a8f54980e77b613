import { randomUUID } from "node:crypto";
import { derivePasswordScalars, verifierFromScalars } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/audit/audit-log.ts";
import { DEMO } from "../src/db/demo-data.ts";
import { databaseBackends } from "./support/databases.ts";
import { addOwnedVehicle, stateSnapshot } from "./support/fixtures.ts";
import { connectVehicle, DEVICE_INFO, startTestServer, tokenFor } from "./support/server.ts";

const backends = await databaseBackends();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `POST /pairing/password/request on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let app: FastifyInstance;
      const logLines: string[] = [];

      beforeAll(async () => {
        app = await startTestServer(
          backend.fresh(),
          { LOG_LEVEL: "trace", PASSWORD_REQUESTS_PER_HOUR: "3", VEHICLE_ACK_TIMEOUT_MS: "1500" },
          { logStream: { write: (line: string) => void logLines.push(line) } },
        );
      });
      afterAll(async () => {
        await app?.close();
        await backend.cleanup();
      });

      const request = (token: string | undefined, body: Record<string, unknown>) =>
        app.inject({
          method: "POST",
          url: "/pairing/password/request",
          headers: token ? { authorization: `Bearer ${token}` } : {},
          payload: body,
        });

      it("issues a password whose verifier the vehicle received and acknowledged", async () => {
        const vehicleId = DEMO.vehicles.alices.id;
        const vehicle = await connectVehicle(app, vehicleId);
        try {
          const token = await tokenFor(app, "alice");
          const response = await request(undefined, { vehicleId, userToken: token, deviceInfo: DEVICE_INFO });
          expect(response.statusCode, response.body).toBe(200);
          const reply = response.json();
          expect(reply).toMatchObject({ maxAttempts: 5, scrypt: { N: 1024, r: 8, p: 1 } });
          expect(reply.pairingPassword).toMatch(/^\d{8}$/);
          expect(reply.deepLink).toContain(reply.sessionId);
          expect(Date.parse(reply.expiresAt) - Date.now()).toBeLessThanOrEqual(600_000);

          // The vehicle holds (w0, L) of exactly this password, under the salt it was sent.
          expect(vehicle.provisions).toHaveLength(1);
          const sent = vehicle.provisions[0]!;
          expect(sent.sessionId).toBe(reply.sessionId);
          const scalars = await derivePasswordScalars(
            nodeCrypto,
            reply.pairingPassword,
            Buffer.from(sent.salt, "base64"),
            sent.scrypt,
          );
          const expected = verifierFromScalars(nodeCrypto, scalars);
          expect(Buffer.from(sent.L, "base64")).toEqual(Buffer.from(expected.L));
          expect(BigInt(`0x${Buffer.from(sent.w0, "base64").toString("hex")}`)).toBe(expected.w0);

          const { db } = app.services;
          const session = await db
            .selectFrom("pairingSessions")
            .selectAll()
            .where("sessionId", "=", reply.sessionId)
            .executeTakeFirstOrThrow();
          expect(session.status).toBe("open");
          // Neither the password nor anything derived from it besides the salt is stored.
          const everything =
            JSON.stringify(await db.selectFrom("pairingSessions").selectAll().execute()) +
            JSON.stringify(await db.selectFrom("auditLog").selectAll().execute());
          expect(everything).not.toContain(reply.pairingPassword);
          // Nor logged, nor the token.
          const logs = logLines.join("");
          expect(logs).not.toContain(reply.pairingPassword);
          expect(logs).not.toContain(token);
          expect(logs).not.toContain(sent.w0);
          expect(await verifyAuditChain(db, nodeCrypto)).toMatchObject({ ok: true });
        } finally {
          await vehicle.client.close();
        }
      });

      it("refuses another user's vehicle, a missing subscription and an unknown vehicle alike, changing nothing", async () => {
        const before = await stateSnapshot(app.services.db);
        const dave = await tokenFor(app, "dave");
        const bob = await tokenFor(app, "bob");
        const cases: [string, string, string][] = [
          [dave, DEMO.vehicles.alices.id, "NOT_OWNER"],
          [dave, "VH-NO-SUCH", "NOT_OWNER"],
          [bob, DEMO.vehicles.bobs.id, "NO_SUBSCRIPTION"],
        ];
        for (const [token, vehicleId, code] of cases) {
          const response = await request(token, { vehicleId, deviceInfo: DEVICE_INFO });
          expect(response.statusCode).toBe(403);
          expect(response.json()).toMatchObject({ code });
        }
        expect(await stateSnapshot(app.services.db)).toEqual(before);
      });

      it("refuses a second owner device unless the owner asks to replace it", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const id = randomUUID();
        const now = new Date();
        await db
          .insertInto("pairingSessions")
          .values({
            sessionId: id,
            userId: owner.userId,
            vehicleId: owner.vehicleId,
            status: "paired",
            channel: "app",
            issuedAt: now,
            expiresAt: now,
            maxAttempts: 5,
            scryptConfig: JSON.stringify({ N: 1024, r: 8, p: 1 }),
            salt: new Uint8Array(16),
            replaceExisting: false,
            deviceInfo: JSON.stringify(null),
            failureCode: null,
          })
          .execute();
        const transactionId = randomUUID();
        await db
          .insertInto("pairingTransactions")
          .values({
            transactionId,
            sessionId: id,
            status: "attested",
            vehiclePublicKeyHash: "00",
            policyFlags: 3,
            deviceNonce: new Uint8Array(16),
            pointX: new Uint8Array(65),
            serverNonce: new Uint8Array(16),
            configDigest: "00",
            endpointHash: "00",
            createdAt: now,
          })
          .execute();
        await db
          .insertInto("digitalKeys")
          .values({
            keyId: randomUUID(),
            vehicleId: owner.vehicleId,
            ownerUserId: owner.userId,
            role: "owner",
            state: "active",
            keyMaterialHash: "00".repeat(16),
            endpointPublicKey: null,
            transactionId,
            createdAt: now,
            revokedAt: null,
          })
          .execute();

        const token = await tokenFor(app, owner.userId);
        const before = await stateSnapshot(db);
        const refused = await request(token, { vehicleId: owner.vehicleId, deviceInfo: DEVICE_INFO });
        expect(refused.statusCode).toBe(409);
        expect(refused.json()).toMatchObject({ code: "OWNER_DEVICE_EXISTS" });
        expect(await stateSnapshot(db)).toEqual(before);

        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const replaced = await request(token, {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
            replaceExisting: true,
          });
          expect(replaced.statusCode, replaced.body).toBe(200);
          // The old key stays active until the new pairing completes.
          const keys = await db
            .selectFrom("digitalKeys")
            .select("state")
            .where("vehicleId", "=", owner.vehicleId)
            .execute();
          expect(keys).toEqual([{ state: "active" }]);
        } finally {
          await vehicle.client.close();
        }
      });

      it("answers VEHICLE_OFFLINE when the vehicle does not acknowledge, and the session is failed", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const response = await request(await tokenFor(app, owner.userId), {
          vehicleId: owner.vehicleId,
          deviceInfo: DEVICE_INFO,
        });
        expect(response.statusCode).toBe(504);
        expect(response.json()).toMatchObject({ code: "VEHICLE_OFFLINE", retryAfter: 30 });
        expect(response.headers["retry-after"]).toBe("30");
        const sessions = await db
          .selectFrom("pairingSessions")
          .select(["status", "failureCode"])
          .where("vehicleId", "=", owner.vehicleId)
          .execute();
        expect(sessions).toEqual([{ status: "failed", failureCode: "VEHICLE_OFFLINE" }]);
      });

      it("lets concurrent requests leave exactly one live session, matching the vehicle's last verifier", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const responses = await Promise.all(
            [1, 2, 3].map(() => request(token, { vehicleId: owner.vehicleId, deviceInfo: DEVICE_INFO })),
          );
          const ok = responses.filter((r) => r.statusCode === 200);
          expect(ok.length).toBeGreaterThanOrEqual(1);
          for (const r of responses.filter((r) => r.statusCode !== 200)) {
            expect(r.json()).toMatchObject({ code: "PAIRING_IN_PROGRESS" });
          }
          const live = await db
            .selectFrom("pairingSessions")
            .select("sessionId")
            .where("vehicleId", "=", owner.vehicleId)
            .where("status", "in", ["open", "provisioning"])
            .execute();
          expect(live).toHaveLength(1);
          expect(vehicle.provisions.at(-1)?.sessionId).toBe(live[0]!.sessionId);
        } finally {
          await vehicle.client.close();
        }
      });

      it("rate-limits password requests per user and vehicle", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        // Offline vehicle: each request still counts (3 per hour in this server).
        for (let i = 0; i < 3; i++) {
          expect(
            (await request(token, { vehicleId: owner.vehicleId, deviceInfo: DEVICE_INFO })).statusCode,
          ).toBe(504);
        }
        const before = await stateSnapshot(db);
        const limited = await request(token, { vehicleId: owner.vehicleId, deviceInfo: DEVICE_INFO });
        expect(limited.statusCode).toBe(429);
        expect(limited.json()).toMatchObject({ code: "RATE_LIMITED" });
        expect(Number(limited.headers["retry-after"])).toBeGreaterThan(3000);
        expect(await stateSnapshot(db)).toEqual(before);
      });

      it("refuses missing, malformed, oversized and unexpected bodies with stable codes", async () => {
        const token = await tokenFor(app, "alice");
        const before = await stateSnapshot(app.services.db);
        const cases: [unknown, number, string][] = [
          [{ vehicleId: "VH-DEMO-1" }, 400, "BAD_REQUEST"],
          [{ vehicleId: "VH/../x", deviceInfo: DEVICE_INFO }, 400, "BAD_REQUEST"],
          [{ vehicleId: "VH-DEMO-1", deviceInfo: DEVICE_INFO, admin: true }, 400, "BAD_REQUEST"],
          [
            { vehicleId: "VH-DEMO-1", deviceInfo: { ...DEVICE_INFO, platform: "symbian" } },
            400,
            "BAD_REQUEST",
          ],
          [
            { vehicleId: "VH-DEMO-1", deviceInfo: { ...DEVICE_INFO, model: "x".repeat(20_000) } },
            413,
            "PAYLOAD_TOO_LARGE",
          ],
        ];
        for (const [body, status, code] of cases) {
          const response = await request(token, body as Record<string, unknown>);
          expect(response.statusCode, JSON.stringify(body).slice(0, 80)).toBe(status);
          expect(response.json()).toMatchObject({ code });
        }
        const broken = await app.inject({
          method: "POST",
          url: "/pairing/password/request",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          payload: '{"vehicleId": "VH-DEMO-1", ',
        });
        expect(broken.statusCode).toBe(400);
        expect(broken.json()).toMatchObject({ code: "BAD_REQUEST" });
        expect(await stateSnapshot(app.services.db)).toEqual(before);
      });
    },
  );
}
