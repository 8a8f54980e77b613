import { randomUUID } from "node:crypto";
import { fromHex, utf8, verifyKeyAttestation } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/audit/audit-log.ts";
import type { ProvisionMessage } from "../src/vehicle-link/messages.ts";
import { databaseBackends } from "./support/databases.ts";
import { addOwnedVehicle, stateSnapshot } from "./support/fixtures.ts";
import { b64, call as callAs, eventually, hex, pairOnce as pairOwner } from "./support/pairing.ts";
import { connectVehicle, DEVICE_INFO, startTestServer, tokenFor } from "./support/server.ts";

const backends = await databaseBackends();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `owner pairing flow on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let app: FastifyInstance;
      beforeAll(async () => {
        app = await startTestServer(backend.fresh());
      });
      afterAll(async () => {
        await app?.close();
        await backend.cleanup();
      });

      const call = (token: string, url: string, payload?: unknown) => callAs(app, token, url, payload);
      const pairOnce = (
        token: string,
        vehicleId: string,
        provisions: ProvisionMessage[],
        replaceExisting = false,
      ) => pairOwner(app, token, vehicleId, provisions, replaceExisting);

      it("pairs end to end: password, attempt, endpoint, KTS attestation, attested key, audit chain", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const pairing = await pairOnce(token, owner.vehicleId, vehicle.provisions);

          const registered = await call(token, "/kts/attestations", {
            transactionId: pairing.transactionId,
            endpointPublicKey: b64(pairing.endpoint.publicKey),
          });
          expect(registered.statusCode, registered.body).toBe(200);
          const attestation = registered.json();
          expect(attestation).toMatchObject({ keyId: pairing.keyId, vehicleId: owner.vehicleId });
          // A phone whose reply was lost asks again and gets the same attestation, not a refusal.
          const again = await call(token, "/kts/attestations", {
            transactionId: pairing.transactionId,
            endpointPublicKey: b64(pairing.endpoint.publicKey),
          });
          expect(again.statusCode, again.body).toBe(200);
          expect(again.json()).toEqual(attestation);
          // ... but never for another endpoint key.
          const otherKey = await call(token, "/kts/attestations", {
            transactionId: pairing.transactionId,
            endpointPublicKey: b64(nodeCrypto.generateKeyPair().publicKey),
          });
          expect(otherKey.json()).toMatchObject({ code: "INVALID_ATTESTATION" });

          // A vehicle checks it with nothing but the published KTS key.
          const { publicKey } = (await app.inject({ url: "/kts/public-key" })).json();
          // ... over the endpoint key id the phone and the vehicle know it by (endpointIdHash).
          const endpointPublicKeyHash = fromHex(attestation.endpointPublicKeyHash);
          expect(endpointPublicKeyHash).toEqual(nodeCrypto.sha256(pairing.endpoint.publicKey));
          expect(
            verifyKeyAttestation(nodeCrypto, Buffer.from(publicKey, "base64"), {
              keyId: endpointPublicKeyHash.slice(0, 16),
              vehicleId: utf8(attestation.vehicleId),
              endpointPublicKeyHash,
              issuedAt: Date.parse(attestation.issuedAt),
              signature: Buffer.from(attestation.signature, "base64"),
            }),
          ).toBe(true);

          const forged = Buffer.from(attestation.signature, "base64");
          forged[forged.length - 1]! ^= 1;
          const refused = await call(token, "/pairing/kts/response", {
            transactionId: pairing.transactionId,
            keyAttestation: { signature: b64(forged), issuedAt: attestation.issuedAt },
          });
          expect(refused.statusCode).toBe(400);
          expect(refused.json()).toMatchObject({ code: "INVALID_ATTESTATION" });

          const stored = await call(token, "/pairing/kts/response", {
            transactionId: pairing.transactionId,
            keyAttestation: { signature: attestation.signature, issuedAt: attestation.issuedAt },
          });
          expect(stored.statusCode, stored.body).toBe(200);

          const keys = (await call(token, "/keys")).json().keys;
          expect(keys).toEqual([
            expect.objectContaining({ keyId: pairing.keyId, state: "active", attested: true }),
          ]);
          expect(await verifyAuditChain(db, nodeCrypto)).toMatchObject({ ok: true });
        } finally {
          await vehicle.client.close();
        }
      });

      it("replaces the owner device only when the new pairing completes, and revokes the old key once the vehicle confirms", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const first = await pairOnce(token, owner.vehicleId, vehicle.provisions);
          const refused = await call(token, "/pairing/password/request", {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
          });
          expect(refused.json()).toMatchObject({ code: "OWNER_DEVICE_EXISTS" });

          const second = await pairOnce(token, owner.vehicleId, vehicle.provisions, true);
          await eventually(async () => vehicle.revocations.length === 1);
          expect(vehicle.revocations[0]).toMatchObject({
            keyId: first.keyId,
            endpointIdHash: first.endpointIdHash,
          });
          await eventually(async () => {
            const keys = (await call(token, "/keys")).json().keys as { keyId: string; state: string }[];
            return keys.find((k) => k.keyId === first.keyId)?.state === "revoked";
          });

          // The owner revokes the new key too: `revoking` until the vehicle acks, then `revoked`.
          const revoke = await call(token, `/keys/${second.keyId}/revoke`, {});
          expect(revoke.statusCode).toBe(202);
          await eventually(async () => vehicle.revocations.length === 2);
          await eventually(async () => {
            const keys = (await call(token, "/keys")).json().keys as { keyId: string; state: string }[];
            return keys.every((k) => k.state === "revoked");
          });
          const again = await call(token, `/keys/${second.keyId}/revoke`, {});
          expect(again.json()).toMatchObject({ code: "KEY_NOT_ACTIVE" });
          const stranger = await call(await tokenFor(app, "dave"), `/keys/${second.keyId}/revoke`, {});
          expect(stranger.json()).toMatchObject({ code: "KEY_NOT_FOUND" });
        } finally {
          await vehicle.client.close();
        }
      });

      it("never spends more attempts than the session has, even when reports race", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const issued = await call(token, "/pairing/password/request", {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
          });
          const { sessionId } = issued.json();
          const attempt = () =>
            call(token, "/pairing/session/start", {
              sessionId,
              devicePublicInfo: {
                deviceNonce: b64(crypto.randomBytes(16)),
                pointX: b64(crypto.generateKeyPair().publicKey),
              },
            });
          const results = await Promise.all(Array.from({ length: 9 }, attempt));
          expect(results.filter((r) => r.statusCode === 200)).toHaveLength(5);
          for (const r of results.filter((r) => r.statusCode !== 200)) {
            expect(r.json()).toEqual({
              code: "ATTEMPTS_EXHAUSTED",
              message: expect.any(String),
              remainingAttempts: 0,
            });
          }
          const session = await db
            .selectFrom("pairingSessions")
            .select("attemptCount")
            .where("sessionId", "=", sessionId)
            .executeTakeFirstOrThrow();
          expect(session.attemptCount).toBe(5);
          // Another user cannot even see the session.
          const other = await call(await tokenFor(app, "dave"), "/pairing/session/start", {
            sessionId,
            devicePublicInfo: {
              deviceNonce: b64(crypto.randomBytes(16)),
              pointX: b64(crypto.generateKeyPair().publicKey),
            },
          });
          expect(other.json()).toMatchObject({ code: "SESSION_NOT_FOUND" });
        } finally {
          await vehicle.client.close();
        }
      });

      it("follows the vehicle: failed attempts and a lock end the session, nothing else changes", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const { sessionId } = (
            await call(token, "/pairing/password/request", {
              vehicleId: owner.vehicleId,
              deviceInfo: DEVICE_INFO,
            })
          ).json();
          await vehicle.client.publishEvent({ type: "attempt_failed", sessionId, remainingAttempts: 3 });
          await eventually(async () => {
            const s = await db
              .selectFrom("pairingSessions")
              .select("attemptCount")
              .where("sessionId", "=", sessionId)
              .executeTakeFirstOrThrow();
            return s.attemptCount === 2;
          });
          await vehicle.client.publishEvent({ type: "locked", sessionId });
          await eventually(async () => {
            const s = await db
              .selectFrom("pairingSessions")
              .select("status")
              .where("sessionId", "=", sessionId)
              .executeTakeFirstOrThrow();
            return s.status === "failed";
          });
          const before = await stateSnapshot(db);
          const locked = await call(token, "/pairing/session/start", {
            sessionId,
            devicePublicInfo: {
              deviceNonce: b64(crypto.randomBytes(16)),
              pointX: b64(crypto.generateKeyPair().publicKey),
            },
          });
          expect(locked.statusCode).toBe(423);
          expect(locked.json()).toMatchObject({ code: "ATTEMPTS_EXHAUSTED", remainingAttempts: 0 });
          expect(await stateSnapshot(db)).toEqual(before);
          const events = await db
            .selectFrom("auditLog")
            .select("event")
            .where("sessionId", "=", sessionId)
            .orderBy("seq")
            .execute();
          expect(events.map((e) => e.event)).toEqual([
            "pairing.password_requested",
            "pairing.verifier_acknowledged",
            "pairing.attempt_failed",
            "pairing.locked",
          ]);
        } finally {
          await vehicle.client.close();
        }
      });

      it("issues one owner key when two transactions of a session confirm at once", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const { sessionId } = (
            await call(token, "/pairing/password/request", {
              vehicleId: owner.vehicleId,
              deviceInfo: DEVICE_INFO,
            })
          ).json();
          const start = async () =>
            (
              await call(token, "/pairing/session/start", {
                sessionId,
                devicePublicInfo: {
                  deviceNonce: b64(crypto.randomBytes(16)),
                  pointX: b64(crypto.generateKeyPair().publicKey),
                },
              })
            ).json().transactionId as string;
          const transactions = [await start(), await start(), await start()];
          const confirms = await Promise.all(
            transactions.map((transactionId) =>
              call(token, "/pairing/config/confirm", {
                transactionId,
                configDigest: "00".repeat(32),
                endpointIdHash: hex(crypto.randomBytes(16)),
                seStatus: 0,
              }),
            ),
          );
          expect(confirms.filter((r) => r.statusCode === 200)).toHaveLength(1);
          for (const r of confirms.filter((r) => r.statusCode !== 200))
            expect(r.json()).toMatchObject({ code: "SESSION_CLOSED" });
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

      it("answers a repeated confirm (the device's retry after a lost reply) with the same key, and nothing else", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const { sessionId } = (
            await call(token, "/pairing/password/request", {
              vehicleId: owner.vehicleId,
              deviceInfo: DEVICE_INFO,
            })
          ).json();
          const { transactionId } = (
            await call(token, "/pairing/session/start", {
              sessionId,
              devicePublicInfo: {
                deviceNonce: b64(crypto.randomBytes(16)),
                pointX: b64(crypto.generateKeyPair().publicKey),
              },
            })
          ).json();
          const confirm = {
            transactionId,
            configDigest: hex(crypto.randomBytes(32)),
            endpointIdHash: hex(crypto.randomBytes(16)),
            seStatus: 0,
          };
          // The first and a concurrent repeat: one key, the same answer for both.
          const [first, concurrent] = await Promise.all([
            call(token, "/pairing/config/confirm", confirm),
            call(token, "/pairing/config/confirm", confirm),
          ]);
          expect(first.statusCode, first.body).toBe(200);
          expect(concurrent.statusCode, concurrent.body).toBe(200);
          expect(concurrent.json()).toEqual(first.json());
          const later = await call(token, "/pairing/config/confirm", confirm);
          expect(later.json()).toEqual(first.json());
          // Not a way to record another endpoint or digest on the closed transaction.
          for (const changed of [
            { ...confirm, endpointIdHash: hex(crypto.randomBytes(16)) },
            { ...confirm, configDigest: hex(crypto.randomBytes(32)) },
          ]) {
            const refused = await call(token, "/pairing/config/confirm", changed);
            expect(refused.statusCode).toBe(409);
            expect(refused.json()).toMatchObject({ code: "SESSION_CLOSED" });
          }
          // Nor for another user.
          const stranger = await tokenFor(app, (await addOwnedVehicle(db, crypto)).userId);
          expect((await call(stranger, "/pairing/config/confirm", confirm)).json()).toMatchObject({
            code: "TRANSACTION_NOT_FOUND",
          });
          const keys = await db
            .selectFrom("digitalKeys")
            .select(["keyId", "state"])
            .where("vehicleId", "=", owner.vehicleId)
            .execute();
          expect(keys).toEqual([{ keyId: first.json().keyId, state: "active" }]);
        } finally {
          await vehicle.client.close();
        }
      });

      it("refuses an invalid point X and an unknown transaction without changing anything", async () => {
        const token = await tokenFor(app, "alice");
        const before = await stateSnapshot(app.services.db);
        const bad = await call(token, "/pairing/session/start", {
          sessionId: randomUUID(),
          devicePublicInfo: { deviceNonce: b64(new Uint8Array(16)), pointX: b64(new Uint8Array(65).fill(4)) },
        });
        expect(bad.json()).toMatchObject({ code: "BAD_REQUEST" });
        const unknown = await call(token, "/pairing/config/confirm", {
          transactionId: randomUUID(),
          configDigest: "00".repeat(32),
          endpointIdHash: "00".repeat(16),
          seStatus: 0,
        });
        expect(unknown.json()).toMatchObject({ code: "TRANSACTION_NOT_FOUND" });
        expect(await stateSnapshot(app.services.db)).toEqual(before);
      });
    },
  );
}
