import { randomUUID } from "node:crypto";
import { nodeCrypto } from "@pairkit/core/node";
import { sql } from "kysely";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendAudit, verifyAuditChain } from "../src/audit/audit-log.ts";
import { type Db, openDatabase } from "../src/db/database.ts";
import { isUniqueViolation } from "../src/db/errors.ts";
import { databaseBackends } from "./support/databases.ts";

const backends = await databaseBackends();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `database on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let db: Db;
      beforeEach(async () => {
        db = await openDatabase(backend.fresh());
      });
      afterEach(async () => {
        await db.destroy();
      });
      afterAll(() => backend.cleanup());

      it("creates every table of the schema", async () => {
        const tables = await sql<{ tableName: string }>`
        select table_name from information_schema.tables where table_schema = current_schema()
        order by table_name`.execute(db);
        expect(tables.rows.map((r) => r.tableName)).toEqual(
          expect.arrayContaining([
            "audit_head",
            "audit_log",
            "digital_keys",
            "email_outbox",
            "key_attestations",
            "ownerships",
            "pairing_sessions",
            "pairing_transactions",
            "portal_tokens",
            "rate_limits",
            "subscriptions",
            "users",
            "vehicles",
            "verifier_deliveries",
          ]),
        );
      });

      it("chains audit entries and detects an edited, deleted or truncated entry", async () => {
        const now = new Date("2026-01-01T00:00:00.123Z");
        for (let i = 0; i < 3; i++) {
          await db
            .transaction()
            .execute((tx) =>
              appendAudit(
                tx,
                nodeCrypto,
                { actor: "system", event: "test.event", detail: { i, z: "x", a: [1, 2] } },
                now,
              ),
            );
        }
        expect(await verifyAuditChain(db, nodeCrypto)).toMatchObject({ ok: true, entries: 3 });

        await db.updateTable("auditLog").set({ actor: "user:mallory" }).where("seq", "=", 2).execute();
        expect(await verifyAuditChain(db, nodeCrypto)).toMatchObject({ ok: false, brokenAt: 2 });
        await db.updateTable("auditLog").set({ actor: "system" }).where("seq", "=", 2).execute();
        expect(await verifyAuditChain(db, nodeCrypto)).toMatchObject({ ok: true });

        await db.deleteFrom("auditLog").where("seq", "=", 3).execute();
        expect(await verifyAuditChain(db, nodeCrypto)).toMatchObject({
          ok: false,
          reason: expect.stringMatching(/head/),
        });
      });

      it("keeps one chain when entries are appended concurrently", async () => {
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            db
              .transaction()
              .execute((tx) => appendAudit(tx, nodeCrypto, { actor: "system", event: `e${i}` }, new Date())),
          ),
        );
        expect(await verifyAuditChain(db, nodeCrypto)).toMatchObject({ ok: true, entries: 8 });
      });

      it("refuses a second live session and a second active owner key for one vehicle", async () => {
        const now = new Date();
        await db
          .insertInto("users")
          .values({ id: "u1", email: "u1@example.com", displayName: "U1", role: "customer", createdAt: now })
          .execute();
        await db
          .insertInto("vehicles")
          .values({
            id: "v1",
            vin: "VIN1",
            model: "M",
            identityPublicKey: new Uint8Array(65).fill(4),
            policyFlags: 0,
            mqttSecretHash: null,
            createdAt: now,
          })
          .execute();
        const session = () => ({
          sessionId: randomUUID(),
          userId: "u1",
          vehicleId: "v1",
          status: "open" as const,
          channel: "app" as const,
          issuedAt: now,
          expiresAt: now,
          maxAttempts: 5,
          scryptConfig: JSON.stringify({ N: 2, r: 1, p: 1 }),
          salt: new Uint8Array(16),
          replaceExisting: false,
          deviceInfo: JSON.stringify(null),
          failureCode: null,
        });
        const first = session();
        await db.insertInto("pairingSessions").values(first).execute();
        const second = await db
          .insertInto("pairingSessions")
          .values(session())
          .execute()
          .catch((e: unknown) => e);
        expect(isUniqueViolation(second, "pairing_sessions_one_live_per_vehicle")).toBe(true);

        const txn = () => ({
          transactionId: randomUUID(),
          sessionId: first.sessionId,
          status: "configured" as const,
          vehiclePublicKeyHash: "00",
          policyFlags: 0,
          deviceNonce: new Uint8Array(16),
          pointX: new Uint8Array(65),
          serverNonce: new Uint8Array(16),
          configDigest: null,
          endpointHash: null,
          createdAt: now,
        });
        const [t1, t2] = [txn(), txn()];
        await db.insertInto("pairingTransactions").values([t1, t2]).execute();
        const key = (transactionId: string) => ({
          keyId: randomUUID(),
          vehicleId: "v1",
          ownerUserId: "u1",
          role: "owner" as const,
          state: "active" as const,
          keyMaterialHash: "aa",
          endpointPublicKey: null,
          transactionId,
          createdAt: now,
          revokedAt: null,
        });
        const results = await Promise.allSettled([
          db.insertInto("digitalKeys").values(key(t1.transactionId)).execute(),
          db.insertInto("digitalKeys").values(key(t2.transactionId)).execute(),
        ]);
        expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        const rejected = results.find((r) => r.status === "rejected");
        expect(isUniqueViolation(rejected?.reason, "digital_keys_one_active_owner")).toBe(true);
      });
    },
  );
}
