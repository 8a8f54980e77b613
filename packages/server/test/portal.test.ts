import type { Crypto } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashLowEntropySecret } from "../src/auth/secret-hash.ts";
import { databaseBackends } from "./support/databases.ts";
import { addOwnedVehicle, stateSnapshot } from "./support/fixtures.ts";
import { connectVehicle, startTestServer, tokenFor } from "./support/server.ts";

const backends = await databaseBackends();
const PIN = "13579";
/** Requests per VIN and requester per hour in these tests. */
const PER_REQUESTER = 40;

/** The node back-end, recording the cost parameter N of every scrypt it runs. */
function countingCrypto(calls: number[]): Crypto {
  return new Proxy(nodeCrypto, {
    get(target, property, receiver) {
      if (property === "scrypt") {
        return (...args: Parameters<Crypto["scrypt"]>) => {
          calls.push(args[2].N);
          return target.scrypt(...args);
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `portal and hotline on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let app: FastifyInstance;
      beforeAll(async () => {
        app = await startTestServer(
          backend.fresh(),
          {
            PIN_MAX_FAILURES: "3",
            LOG_LEVEL: "trace",
            PORTAL_REQUESTS_PER_VIN_PER_HOUR: String(PER_REQUESTER),
          },
          { logStream: { write: (l: string) => void logs.push(l) }, crypto: countingCrypto(scryptCalls) },
        );
      });
      afterAll(async () => {
        await app?.close();
        await backend.cleanup();
      });
      const logs: string[] = [];
      const scryptCalls: number[] = [];

      async function owner() {
        const { db, crypto } = app.services;
        const pinHash = await hashLowEntropySecret(crypto, PIN, { N: 1024, r: 8, p: 1 });
        return addOwnedVehicle(db, crypto, { pinHash });
      }

      /** The one-time token from the last e-mail the development SMTP sink received for `email`. */
      function tokenFromMailbox(email: string): string {
        const message = [...(app.services.mailer.sinkMessages ?? [])]
          .reverse()
          .find((m) => m.envelopeTo.includes(email));
        // Undo quoted-printable: soft line breaks, then =XX escapes.
        const text = message?.raw
          .replace(/=\r?\n/g, "")
          .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
        const match = text?.match(/#token=([A-Za-z0-9_-]{43})/);
        if (!match) throw new Error(`no link e-mailed to ${email}`);
        return match[1]!;
      }

      it("e-mails a one-time link after the PIN check; the link yields a password once, then never again", async () => {
        const o = await owner();
        const email = `${o.userId}@example.com`;
        const vehicle = await connectVehicle(app, o.vehicleId);
        try {
          const accepted = await app.inject({
            method: "POST",
            url: "/portal/password-link",
            payload: { vin: o.vin, email, pin: PIN },
          });
          expect(accepted.statusCode, accepted.body).toBe(202);
          const token = tokenFromMailbox(email);
          // Stored only hashed; the outbox body is cleared once sent.
          const { db } = app.services;
          expect(JSON.stringify(await db.selectFrom("portalTokens").selectAll().execute())).not.toContain(
            token,
          );
          expect(JSON.stringify(await db.selectFrom("emailOutbox").selectAll().execute())).not.toContain(
            token,
          );

          const redeemed = await app.inject({ method: "POST", url: "/portal/redeem", payload: { token } });
          expect(redeemed.statusCode, redeemed.body).toBe(200);
          expect(redeemed.json().pairingPassword).toMatch(/^\d{8}$/);
          expect(vehicle.provisions.map((p) => p.sessionId)).toEqual([redeemed.json().sessionId]);

          const before = await stateSnapshot(db);
          const replayed = await app.inject({ method: "POST", url: "/portal/redeem", payload: { token } });
          expect(replayed.statusCode).toBe(410);
          expect(replayed.json()).toMatchObject({ code: "LINK_INVALID" });
          expect(await stateSnapshot(db)).toEqual(before);
          expect(logs.join("")).not.toContain(token);
          expect(logs.join("")).not.toContain(redeemed.json().pairingPassword);
        } finally {
          await vehicle.client.close();
        }
      });

      it("refuses an expired link and changes nothing", async () => {
        const o = await owner();
        const email = `${o.userId}@example.com`;
        await app.inject({
          method: "POST",
          url: "/portal/password-link",
          payload: { vin: o.vin, email, pin: PIN },
        });
        const token = tokenFromMailbox(email);
        await app.services.db
          .updateTable("portalTokens")
          .set({ expiresAt: new Date(Date.now() - 1000) })
          .where("userId", "=", o.userId)
          .execute();
        const before = await stateSnapshot(app.services.db);
        const response = await app.inject({ method: "POST", url: "/portal/redeem", payload: { token } });
        expect(response.json()).toMatchObject({ code: "LINK_INVALID" });
        expect(await stateSnapshot(app.services.db)).toEqual(before);
      });

      it("locks the PIN after repeated wrong PINs, even for the right PIN, and sends nothing", async () => {
        const o = await owner();
        const email = `${o.userId}@example.com`;
        const { db } = app.services;
        const before = await stateSnapshot(db);
        const attempt = (pin: string) =>
          app.inject({ method: "POST", url: "/portal/password-link", payload: { vin: o.vin, email, pin } });
        // Parallel guesses cannot outrun the counter: 3 allowed, the rest locked.
        const guesses = await Promise.all(["0000", "1111", "2222", "3333", "4444"].map(attempt));
        const codes = guesses.map((g) => g.json().code).sort();
        expect(
          codes.filter((c) => c === "PIN_INVALID").length + codes.filter((c) => c === "PIN_LOCKED").length,
        ).toBe(5);
        expect(codes.filter((c) => c === "PIN_INVALID").length).toBeLessThanOrEqual(2);
        const locked = await attempt(PIN);
        expect(locked.statusCode).toBe(423);
        expect(locked.json()).toMatchObject({ code: "PIN_LOCKED" });
        expect(Number(locked.headers["retry-after"])).toBeGreaterThan(0);
        const after = await stateSnapshot(db);
        expect({ ...after, audit: before.audit }).toEqual(before);
      });

      it("answers an unknown VIN and a wrong e-mail exactly like a wrong PIN", async () => {
        const o = await owner();
        const before = await stateSnapshot(app.services.db);
        const cases = [
          { vin: "UNKNOWNVIN0000000", email: `${o.userId}@example.com`, pin: PIN },
          { vin: o.vin, email: "someone-else@example.com", pin: PIN },
        ];
        for (const payload of cases) {
          const response = await app.inject({ method: "POST", url: "/portal/password-link", payload });
          expect(response.statusCode).toBe(403);
          expect(response.json()).toEqual({
            code: "PIN_INVALID",
            message: "VIN, e-mail or owner PIN not recognised",
          });
        }
        expect(await stateSnapshot(app.services.db)).toEqual(before);
      });

      it("does the same scrypt work for an unknown VIN, a wrong e-mail, a wrong and a right PIN", async () => {
        const o = await owner();
        const email = `${o.userId}@example.com`;
        const cases = {
          unknownVin: { vin: "UNKNOWNVIN0000001", email, pin: PIN },
          wrongEmail: { vin: o.vin, email: "someone-else@example.com", pin: PIN },
          wrongPin: { vin: o.vin, email, pin: "97531" },
          rightPin: { vin: o.vin, email, pin: PIN },
        };
        for (const [name, payload] of Object.entries(cases)) {
          scryptCalls.length = 0;
          const response = await app.inject({ method: "POST", url: "/portal/password-link", payload });
          expect(response.statusCode, name).toBe(name === "rightPin" ? 202 : 403);
          // One verification each, at the cost owner PINs are hashed with (SCRYPT_N of the test server).
          expect(scryptCalls, name).toEqual([1024]);
        }
      });

      it("lets 40 parallel requests with the correct PIN through: none is locked out", async () => {
        const o = await owner();
        const email = `${o.userId}@example.com`;
        const replies = await Promise.all(
          Array.from({ length: PER_REQUESTER }, () =>
            app.inject({
              method: "POST",
              url: "/portal/password-link",
              payload: { vin: o.vin, email, pin: PIN },
            }),
          ),
        );
        expect(replies.map((r) => r.statusCode)).toEqual(replies.map(() => 202));
        const row = await app.services.db
          .selectFrom("ownerships")
          .select(["pinFailures", "pinLockedUntil"])
          .where("userId", "=", o.userId)
          .executeTakeFirstOrThrow();
        expect(row).toEqual({ pinFailures: 0, pinLockedUntil: null });
      });

      it("counts requests per VIN per requester: a stranger's spent budget blocks neither the owner nor the hotline", async () => {
        const o = await owner();
        const email = `${o.userId}@example.com`;
        const from = (remoteAddress: string, payload: object) =>
          app.inject({ method: "POST", url: "/portal/password-link", payload, remoteAddress });
        const stranger = "198.51.100.7";
        for (let i = 0; i < PER_REQUESTER; i++) {
          const guess = await from(stranger, { vin: o.vin, email: `guess${i}@example.com`, pin: "0000" });
          expect(guess.statusCode).toBe(403);
        }
        const limited = await from(stranger, { vin: o.vin, email, pin: PIN });
        expect(limited.statusCode).toBe(429);
        expect(limited.json()).toMatchObject({ code: "RATE_LIMITED" });

        expect((await from("203.0.113.9", { vin: o.vin, email, pin: PIN })).statusCode).toBe(202);
        const hotline = await app.inject({
          method: "POST",
          url: "/hotline/password-link",
          headers: { authorization: `Bearer ${await tokenFor(app, "carol")}` },
          payload: { vin: o.vin, pin: PIN },
          remoteAddress: stranger,
        });
        expect(hotline.statusCode, hotline.body).toBe(202);
      });

      it("checks the hotline PIN against the owner the agent names when the vehicle has two owners", async () => {
        const first = await owner();
        const { db } = app.services;
        const second = { userId: `${first.userId}-b`, pin: "86420" };
        await db
          .insertInto("users")
          .values({
            id: second.userId,
            email: `${second.userId}@example.com`,
            displayName: "Second owner",
            role: "customer",
            createdAt: new Date(),
          })
          .execute();
        await db
          .insertInto("ownerships")
          .values({
            userId: second.userId,
            vehicleId: first.vehicleId,
            pinHash: await hashLowEntropySecret(app.services.crypto, second.pin, { N: 1024, r: 8, p: 1 }),
            pinLockedUntil: null,
            since: new Date(),
          })
          .execute();
        await db
          .insertInto("subscriptions")
          .values({
            userId: second.userId,
            vehicleId: first.vehicleId,
            product: "digital_key",
            validUntil: new Date(Date.now() + 86_400_000),
          })
          .execute();
        const agent = await tokenFor(app, "carol");
        const hotline = (payload: object) =>
          app.inject({
            method: "POST",
            url: "/hotline/password-link",
            headers: { authorization: `Bearer ${agent}` },
            payload,
          });
        const before = await stateSnapshot(db);
        const unnamed = await hotline({ vin: first.vin, pin: second.pin });
        expect(unnamed.statusCode).toBe(400);
        expect(unnamed.json()).toMatchObject({ code: "BAD_REQUEST" });
        // The second owner's PIN does not pass for the first owner.
        const crossed = await hotline({
          vin: first.vin,
          email: `${first.userId}@example.com`,
          pin: second.pin,
        });
        expect(crossed.json()).toMatchObject({ code: "PIN_INVALID" });
        expect(await stateSnapshot(db)).toEqual({ ...before, audit: before.audit + 1 });

        const named = await hotline({
          vin: first.vin,
          email: `${second.userId}@example.com`,
          pin: second.pin,
        });
        expect(named.statusCode, named.body).toBe(202);
        expect(tokenFromMailbox(`${second.userId}@example.com`)).toHaveLength(43);
        const tokens = await db
          .selectFrom("portalTokens")
          .select("userId")
          .where("vehicleId", "=", first.vehicleId)
          .execute();
        expect(tokens).toEqual([{ userId: second.userId }]);
      });

      it("lets a hotline agent trigger the e-mail to the owner on file, and nobody else", async () => {
        const o = await owner();
        const agent = await tokenFor(app, "carol");
        const customer = await tokenFor(app, "alice");
        const forbidden = await app.inject({
          method: "POST",
          url: "/hotline/password-link",
          headers: { authorization: `Bearer ${customer}` },
          payload: { vin: o.vin, pin: PIN },
        });
        expect(forbidden.json()).toMatchObject({ code: "FORBIDDEN" });
        const accepted = await app.inject({
          method: "POST",
          url: "/hotline/password-link",
          headers: { authorization: `Bearer ${agent}` },
          payload: { vin: o.vin, pin: PIN },
        });
        expect(accepted.statusCode, accepted.body).toBe(202);
        expect(tokenFromMailbox(`${o.userId}@example.com`)).toHaveLength(43);
        const audit = await app.services.db
          .selectFrom("auditLog")
          .select(["actor", "event"])
          .where("vehicleId", "=", o.vehicleId)
          .execute();
        expect(audit).toContainEqual({ actor: "agent:carol", event: "portal.link_sent" });
      });
    },
  );
}
