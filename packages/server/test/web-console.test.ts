import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../src/errors.ts";
import { consoleContentSecurityPolicy, consoleRoutes } from "../src/routes/console.ts";
import type { DevFixtures } from "../src/routes/dev.ts";
import { databaseBackends } from "./support/databases.ts";
import { addOwnedVehicle, stateSnapshot } from "./support/fixtures.ts";
import { b64, call, eventually, pairOnce } from "./support/pairing.ts";
import { connectVehicle, DEVICE_INFO, startTestServer, tokenFor } from "./support/server.ts";
import { SseClient } from "./support/sse-client.ts";

const backends = await databaseBackends();

const INDEX_HTML =
  '<!doctype html><html><head><script type="module" src="/assets/app.js"></script></head></html>';
const APP_JS = "console.log('pairkit console');";
const SECRET = "secret outside the console root";
const RADIO_URL = "ws://127.0.0.1:8081";
const CSP =
  "default-src 'self'; connect-src 'self' ws://127.0.0.1:8081; img-src 'self' data: blob:; " +
  "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'";
const FIXTURES: DevFixtures = {
  trustAnchors: () => [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])],
  cards: () => [{ name: "Card 1", qrText: "PKC1:abc", qrPngBase64: "iVBORw0KGgo=" }],
};
const ADMIN_ROUTES = [
  ["GET", "/admin/sessions"],
  ["GET", "/admin/transactions"],
  ["GET", "/admin/keys"],
  ["GET", "/admin/attestations"],
  ["GET", "/admin/audit"],
  ["GET", "/admin/events"],
  ["POST", `/admin/keys/${randomUUID()}/revoke`],
] as const;

/** A built console in a temporary directory, with a file next to it that must never be served. */
function consoleFixture() {
  const dir = mkdtempSync(join(tmpdir(), "pairkit-console-"));
  const root = join(dir, "console");
  mkdirSync(join(root, "assets"), { recursive: true });
  writeFileSync(join(root, "index.html"), INDEX_HTML);
  writeFileSync(join(root, "assets", "app.js"), APP_JS);
  writeFileSync(join(root, ".env"), SECRET);
  writeFileSync(join(dir, "secret.txt"), SECRET);
  return { dir, root };
}

/** A raw HTTP GET whose path reaches the server exactly as written (no client-side normalisation). */
function rawGet(baseUrl: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const isNewestFirst = (times: string[]) =>
  times.every((t, i) => i === 0 || Date.parse(times[i - 1]!) >= Date.parse(t));

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `web console API on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let app: FastifyInstance;
      let baseUrl: string;
      let fixture: ReturnType<typeof consoleFixture>;
      let admin: string;

      beforeAll(async () => {
        fixture = consoleFixture();
        app = await startTestServer(
          backend.fresh(),
          { EVENT_STREAMS_MAX: "3" },
          { console: { root: fixture.root, settings: { radioUrl: RADIO_URL } }, devFixtures: FIXTURES },
        );
        baseUrl = await app.listen({ host: "127.0.0.1", port: 0 });
        admin = await tokenFor(app, "erin");
      });
      afterAll(async () => {
        await app?.close();
        await backend.cleanup();
        if (fixture) rmSync(fixture.dir, { recursive: true, force: true });
      });

      it("lists the caller's vehicles with their subscription and current owner key", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const before = (await call(app, token, "/me/vehicles")).json();
        expect(before).toEqual({
          vehicles: [
            {
              vehicleId: owner.vehicleId,
              vin: owner.vin,
              model: "Test",
              subscribed: true,
              subscriptionValidUntil: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
              ownerKey: null,
            },
          ],
        });

        const vehicle = await connectVehicle(app, owner.vehicleId);
        try {
          const pairing = await pairOnce(app, token, owner.vehicleId, vehicle.provisions);
          const after = (await call(app, token, "/me/vehicles")).json();
          expect(after.vehicles[0].ownerKey).toEqual({
            keyId: pairing.keyId,
            state: "active",
            attested: false,
          });
        } finally {
          await vehicle.client.close();
        }

        const lapsed = await addOwnedVehicle(db, crypto, { subscribed: false });
        const ended = new Date("2025-01-31T00:00:00.000Z");
        await db
          .insertInto("subscriptions")
          .values({
            userId: lapsed.userId,
            vehicleId: lapsed.vehicleId,
            product: "digital_key",
            validUntil: ended,
          })
          .execute();
        expect((await call(app, await tokenFor(app, lapsed.userId), "/me/vehicles")).json().vehicles).toEqual(
          [expect.objectContaining({ subscribed: false, subscriptionValidUntil: ended.toISOString() })],
        );
        expect((await call(app, await tokenFor(app, "bob"), "/me/vehicles")).json().vehicles).toEqual([
          expect.objectContaining({
            vehicleId: "VH-DEMO-2",
            subscribed: false,
            subscriptionValidUntil: null,
          }),
        ]);
        expect((await call(app, await tokenFor(app, "dave"), "/me/vehicles")).json()).toEqual({
          vehicles: [],
        });
        const anonymous = await app.inject({ url: "/me/vehicles" });
        expect(anonymous.statusCode).toBe(401);
        expect(anonymous.json()).toMatchObject({ code: "UNAUTHENTICATED" });
      });

      it("gives administrators sessions, transactions, keys and attestations, newest first, without secrets", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        let pairing: Awaited<ReturnType<typeof pairOnce>>;
        try {
          pairing = await pairOnce(app, token, owner.vehicleId, vehicle.provisions);
        } finally {
          await vehicle.client.close();
        }
        const registered = await call(app, token, "/kts/attestations", {
          transactionId: pairing.transactionId,
          endpointPublicKey: b64(pairing.endpoint.publicKey),
        });
        expect(registered.statusCode, registered.body).toBe(200);
        const attestation = registered.json();
        expect(
          (
            await call(app, token, "/pairing/kts/response", {
              transactionId: pairing.transactionId,
              keyAttestation: { signature: attestation.signature, issuedAt: attestation.issuedAt },
            })
          ).statusCode,
        ).toBe(200);

        const list = async (path: string) => {
          const response = await call(app, admin, path);
          expect(response.statusCode, response.body).toBe(200);
          // Not a salt, verifier, password, PIN or token hash, whatever the field is called.
          expect(response.body).not.toContain(pairing.pairingPassword);
          expect(response.body).not.toMatch(/"(salt|w0|L|pinHash|tokenHash|mqttSecretHash|password)"/);
          return response.json().items as Record<string, unknown>[];
        };

        const sessions = await list("/admin/sessions");
        expect(sessions.find((s) => s.sessionId === pairing.sessionId)).toEqual({
          sessionId: pairing.sessionId,
          userId: owner.userId,
          vehicleId: owner.vehicleId,
          status: "paired",
          channel: "app",
          issuedAt: expect.any(String),
          expiresAt: expect.any(String),
          attemptCount: 1,
          maxAttempts: 5,
          replaceExisting: false,
          deviceInfo: DEVICE_INFO,
          failureCode: null,
        });
        expect(isNewestFirst(sessions.map((s) => s.issuedAt as string))).toBe(true);

        const transactions = await list("/admin/transactions");
        expect(transactions.find((t) => t.transactionId === pairing.transactionId)).toEqual({
          transactionId: pairing.transactionId,
          sessionId: pairing.sessionId,
          userId: owner.userId,
          vehicleId: owner.vehicleId,
          status: "attested",
          policyFlags: 3,
          vehiclePublicKeyHash: expect.stringMatching(/^[0-9a-f]{64}$/),
          deviceNonce: expect.stringMatching(/^[A-Za-z0-9+/]{22}==$/),
          vehicleNonce: expect.stringMatching(/^[A-Za-z0-9+/]{22}==$/),
          configDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
          endpointIdHash: pairing.endpointIdHash,
          createdAt: expect.any(String),
        });
        expect(isNewestFirst(transactions.map((t) => t.createdAt as string))).toBe(true);

        const keys = await list("/admin/keys");
        expect(keys.find((k) => k.keyId === pairing.keyId)).toEqual({
          keyId: pairing.keyId,
          vehicleId: owner.vehicleId,
          ownerUserId: owner.userId,
          role: "owner",
          state: "active",
          attested: true,
          endpointIdHash: pairing.endpointIdHash,
          endpointPublicKey: b64(pairing.endpoint.publicKey),
          transactionId: pairing.transactionId,
          createdAt: expect.any(String),
          revokedAt: null,
        });
        expect(isNewestFirst(keys.map((k) => k.createdAt as string))).toBe(true);

        const attestations = await list("/admin/attestations");
        expect(attestations.find((a) => a.keyId === pairing.keyId)).toEqual({
          keyId: pairing.keyId,
          transactionId: pairing.transactionId,
          vehicleId: owner.vehicleId,
          issuedAt: attestation.issuedAt,
          signature: attestation.signature,
          verified: true,
        });

        expect(await list("/admin/sessions?limit=1")).toHaveLength(1);
        expect((await list("/admin/sessions?limit=500")).length).toBeGreaterThan(1);
      });

      it("returns the newest audit entries with the chain's verification, and shows where an edited entry breaks it", async () => {
        const { db } = app.services;
        const audit = async (query = "") => {
          const response = await call(app, admin, `/admin/audit${query}`);
          expect(response.statusCode, response.body).toBe(200);
          return response.json();
        };
        const sound = await audit("?limit=5");
        expect(sound.entries).toHaveLength(5);
        const ids = sound.entries.map((e: { id: number }) => e.id);
        expect(ids).toEqual([...ids].sort((a, b) => b - a));
        expect(sound.entries[0]).toEqual({
          id: expect.any(Number),
          at: expect.any(String),
          actor: expect.stringMatching(/^(user|vehicle|agent|admin|system)/),
          action: expect.stringMatching(/^[a-z_]+\.[a-z_]+$/),
          detail: expect.any(Object),
          hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
        expect(sound.chain).toEqual({ intact: true, checked: expect.any(Number), firstBrokenId: null });
        expect(sound.chain.checked).toBeGreaterThanOrEqual(ids[0]);

        const edited = ids[2];
        const original = await db
          .selectFrom("auditLog")
          .select("actor")
          .where("seq", "=", edited)
          .executeTakeFirstOrThrow();
        await db.updateTable("auditLog").set({ actor: "user:mallory" }).where("seq", "=", edited).execute();
        try {
          expect((await audit()).chain).toEqual({
            intact: false,
            checked: edited - 1,
            firstBrokenId: edited,
          });
        } finally {
          await db.updateTable("auditLog").set({ actor: original.actor }).where("seq", "=", edited).execute();
        }
        expect((await audit()).chain.intact).toBe(true);
      });

      it("refuses every admin console route to customers and agents (403) and to anonymous callers (401), and bad input (400)", async () => {
        const before = await stateSnapshot(app.services.db);
        const tokens: Record<string, string | undefined> = {
          customer: await tokenFor(app, "alice"),
          agent: await tokenFor(app, "carol"),
          anonymous: undefined,
        };
        for (const [who, token] of Object.entries(tokens)) {
          for (const [method, url] of ADMIN_ROUTES) {
            const response = await app.inject({
              method,
              url,
              headers: token ? { authorization: `Bearer ${token}` } : {},
            });
            const expected = token
              ? { status: 403, code: "FORBIDDEN" }
              : { status: 401, code: "UNAUTHENTICATED" };
            expect(response.statusCode, `${who} ${url}`).toBe(expected.status);
            expect(response.json(), `${who} ${url}`).toMatchObject({ code: expected.code });
          }
        }
        for (const query of [
          "limit=0",
          "limit=501",
          "limit=abc",
          "limit=-1",
          "limit=5.5",
          "limit=",
          "other=1",
        ]) {
          for (const path of ["/admin/sessions", "/admin/audit"]) {
            const response = await call(app, admin, `${path}?${query}`);
            expect(response.statusCode, `${path}?${query}`).toBe(400);
            expect(response.json()).toMatchObject({ code: "BAD_REQUEST" });
          }
        }
        const badKey = await call(app, admin, "/admin/keys/not-a-uuid/revoke", {});
        expect(badKey.json()).toMatchObject({ code: "BAD_REQUEST" });
        const unknownKey = await call(app, admin, `/admin/keys/${randomUUID()}/revoke`, {});
        expect(unknownKey.statusCode).toBe(404);
        expect(unknownKey.json()).toMatchObject({ code: "KEY_NOT_FOUND" });
        expect(await stateSnapshot(app.services.db)).toEqual(before);
      });

      it("streams each committed change to the administrator, and revokes any user's key once the vehicle confirms", async () => {
        const { db, crypto } = app.services;
        const owner = await addOwnedVehicle(db, crypto);
        const token = await tokenFor(app, owner.userId);
        const vehicle = await connectVehicle(app, owner.vehicleId);
        const events = await SseClient.open(`${baseUrl}/admin/events`, admin);
        try {
          expect(events.comments).toContain("connected");
          // A refused change rolls back and announces nothing.
          const unknownKey = randomUUID();
          expect((await call(app, admin, `/admin/keys/${unknownKey}/revoke`, {})).statusCode).toBe(404);

          const issued = await call(app, token, "/pairing/password/request", {
            vehicleId: owner.vehicleId,
            deviceInfo: DEVICE_INFO,
          });
          expect(issued.statusCode, issued.body).toBe(200);
          const { sessionId } = issued.json();
          await events.change({ kind: "session", id: sessionId });
          // Sent after the commit: the session is already visible to the console when it refetches.
          const sessions = (await call(app, admin, "/admin/sessions")).json().items as {
            sessionId: string;
          }[];
          expect(sessions.map((s) => s.sessionId)).toContain(sessionId);
          expect(events.events.some((e) => e.data.includes(unknownKey))).toBe(false);

          // Pairing asks for a password of its own; the first request's session is superseded.
          const pairing = await pairOnce(app, token, owner.vehicleId, vehicle.provisions);
          await events.change({ kind: "session", id: pairing.sessionId });
          await events.change({ kind: "transaction", id: pairing.transactionId });
          await events.change({ kind: "key", id: pairing.keyId });
          const registered = await call(app, token, "/kts/attestations", {
            transactionId: pairing.transactionId,
            endpointPublicKey: b64(pairing.endpoint.publicKey),
          });
          expect(registered.statusCode).toBe(200);
          await events.change({ kind: "attestation", id: pairing.keyId });

          const revoke = await call(app, admin, `/admin/keys/${pairing.keyId}/revoke`, {});
          expect(revoke.statusCode, revoke.body).toBe(202);
          expect(revoke.json()).toEqual({ keyId: pairing.keyId, state: "revoking" });
          await eventually(async () => vehicle.revocations.length === 1);
          expect(vehicle.revocations[0]).toMatchObject({ keyId: pairing.keyId });
          await eventually(async () => {
            const keys = (await call(app, admin, "/admin/keys")).json().items as {
              keyId: string;
              state: string;
            }[];
            return keys.find((k) => k.keyId === pairing.keyId)?.state === "revoked";
          });
          const entries = (await call(app, admin, "/admin/audit?limit=500")).json().entries as {
            id: number;
            actor: string;
            action: string;
          }[];
          expect(entries.find((e) => e.action === "key.revocation_requested")?.actor).toBe("admin:erin");
          const revoked = entries.find(
            (e) => e.action === "key.revoked" && e.actor === `vehicle:${owner.vehicleId}`,
          );
          expect(revoked).toBeDefined();
          await events.change({ kind: "audit", id: String(revoked!.id) });

          const again = await call(app, admin, `/admin/keys/${pairing.keyId}/revoke`, {});
          expect(again.statusCode).toBe(409);
          expect(again.json()).toMatchObject({ code: "KEY_NOT_ACTIVE" });
          for (const e of events.events) {
            expect(e.event).toBe("change");
            expect(JSON.parse(e.data)).toEqual({
              kind: expect.stringMatching(/^(session|transaction|key|attestation|audit)$/),
              id: expect.any(String),
            });
          }
        } finally {
          events.close();
          await vehicle.client.close();
        }
      });

      it("bounds the open event streams (503 SERVER_BUSY) and frees a slot when a client hangs up", async () => {
        const open: SseClient[] = [];
        try {
          // The previous test's stream may still be closing on the server side.
          await eventually(async () => {
            try {
              open.push(await SseClient.open(`${baseUrl}/admin/events`, admin));
            } catch {
              return false;
            }
            return open.length === 3;
          });
          // HEAD would open a stream nobody reads: there is no such route.
          const head = await app.inject({
            method: "HEAD",
            url: "/admin/events",
            headers: { authorization: `Bearer ${admin}` },
          });
          expect(head.statusCode).toBe(404);
          const busy = await fetch(`${baseUrl}/admin/events`, {
            headers: { authorization: `Bearer ${admin}` },
          });
          expect(busy.status).toBe(503);
          expect(busy.headers.get("retry-after")).toBe("5");
          expect(await busy.json()).toMatchObject({ code: "SERVER_BUSY" });

          open.shift()!.close();
          await eventually(async () => {
            const retry = await fetch(`${baseUrl}/admin/events`, {
              headers: { authorization: `Bearer ${admin}` },
            });
            if (retry.status !== 200) return false;
            await retry.body?.cancel();
            return true;
          });
        } finally {
          for (const client of open) client.close();
        }
      });

      it("serves the console with its security headers at / and /portal/redeem, while POST /portal/redeem stays the API", async () => {
        for (const url of ["/", "/portal/redeem"]) {
          const page = await app.inject({ url });
          expect(page.statusCode, url).toBe(200);
          expect(page.headers["content-type"]).toMatch(/^text\/html/);
          expect(page.body).toBe(INDEX_HTML);
          expect(page.headers["content-security-policy"]).toBe(CSP);
          expect(page.headers["x-content-type-options"]).toBe("nosniff");
          expect(page.headers["x-frame-options"]).toBe("DENY");
          expect(page.headers["referrer-policy"]).toBe("no-referrer");
          expect(page.headers["cache-control"]).toBe("no-cache");
        }
        const script = await app.inject({ url: "/assets/app.js" });
        expect(script.statusCode).toBe(200);
        expect(script.headers["content-type"]).toMatch(/javascript/);
        expect(script.body).toBe(APP_JS);
        expect(script.headers["content-security-policy"]).toBe(CSP);

        const settings = await app.inject({ url: "/console/settings.json" });
        expect(settings.json()).toEqual({ radioUrl: RADIO_URL });
        expect(settings.headers["content-security-policy"]).toBe(CSP);

        const redeem = await app.inject({
          method: "POST",
          url: "/portal/redeem",
          payload: { token: "A".repeat(43) },
        });
        expect(redeem.statusCode).toBe(410);
        expect(redeem.json()).toMatchObject({ code: "LINK_INVALID" });
        const malformed = await app.inject({ method: "POST", url: "/portal/redeem", payload: {} });
        expect(malformed.json()).toMatchObject({ code: "BAD_REQUEST" });

        // The API around it is unchanged: unknown paths are the usual 404, the docs UI still loads.
        const missing = await app.inject({ url: "/no-such-page.js" });
        expect(missing.statusCode).toBe(404);
        expect(missing.json()).toMatchObject({ code: "NOT_FOUND" });
        expect((await app.inject({ url: "/docs/" })).headers["content-type"]).toMatch(/text\/html/);
        const spec = (await app.inject({ url: "/openapi.json" })).json();
        await expect(SwaggerParser.validate(structuredClone(spec))).resolves.toBeDefined();
        expect(spec.paths["/portal/redeem"]).toHaveProperty("get");
        expect(spec.paths["/portal/redeem"]).toHaveProperty("post");
        expect(spec.paths["/console/settings.json"]).toHaveProperty("get");
        expect((await app.inject({ url: "/healthz" })).json()).toEqual({ status: "ok" });
      });

      it("never serves a file outside the console root, nor a dotfile inside it", async () => {
        for (const path of [
          "/../secret.txt",
          "/%2e%2e/secret.txt",
          "/..%2fsecret.txt",
          "/%2e%2e%2fsecret.txt",
          "/assets/../../secret.txt",
          "/assets/..%2f..%2fsecret.txt",
          "/assets/%2e%2e/%2e%2e/secret.txt",
          "/..%5csecret.txt",
          "/.env",
          "/%2eenv",
          "/assets/../.env",
        ]) {
          const response = await rawGet(baseUrl, path);
          expect(response.status, path).toBeGreaterThanOrEqual(400);
          expect(response.body, path).not.toContain(SECRET);
        }
      });

      it("serves the development trust anchors and cards it was given", async () => {
        expect((await app.inject({ url: "/dev/trust-anchors" })).json()).toEqual({
          certificates: ["MAMCAQE="],
        });
        expect((await app.inject({ url: "/dev/cards" })).json()).toEqual({ cards: FIXTURES.cards() });
      });

      it("ends open event streams when the server closes instead of waiting for the client", async () => {
        const events = await SseClient.open(`${baseUrl}/admin/events`, admin);
        // A spare connection that never carries a request, as browsers and fetch pools open them.
        const { hostname, port } = new URL(baseUrl);
        const spare = connect(Number(port), hostname);
        await new Promise((resolve) => spare.once("connect", resolve));
        const spareClosed = new Promise((resolve) => spare.once("close", resolve));
        await app.close();
        await events.ended;
        await spareClosed;
        expect(events.comments).toContain("connected");
      });
    },
  );
}

describe("console hosting setup", () => {
  it("builds the CSP from the radio URL and refuses anything but ws: or wss:", () => {
    expect(consoleContentSecurityPolicy({})).toContain("connect-src 'self';");
    expect(consoleContentSecurityPolicy({ radioUrl: "wss://radio.example:9000/path" })).toContain(
      "connect-src 'self' wss://radio.example:9000;",
    );
    for (const radioUrl of ["http://127.0.0.1:8081", "not a url", 8081, "javascript:alert(1)"]) {
      expect(() => consoleContentSecurityPolicy({ radioUrl }), String(radioUrl)).toThrow(ConfigError);
    }
  });

  it("refuses a console root without index.html", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pairkit-console-empty-"));
    const app = Fastify();
    try {
      await expect(
        app.register(async (scope) => consoleRoutes(scope, { root: dir, settings: {} })),
      ).rejects.toThrow(ConfigError);
    } finally {
      await app.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
