import SwaggerParser from "@apidevtools/swagger-parser";
import type { FastifyInstance } from "fastify";
import { generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { databaseBackends } from "./support/databases.ts";
import { stateSnapshot } from "./support/fixtures.ts";
import { AUDIENCE, ISSUER, startIdentityProvider } from "./support/identity-provider.ts";
import { DEVICE_INFO, startTestServer } from "./support/server.ts";

const backends = await databaseBackends();

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `authentication and operations on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let app: FastifyInstance;
      let idp: Awaited<ReturnType<typeof startIdentityProvider>>;

      beforeAll(async () => {
        idp = await startIdentityProvider();
        app = await startTestServer(backend.fresh(), {
          JWT_ISSUER: ISSUER,
          JWT_AUDIENCE: AUDIENCE,
          JWT_JWKS_URL: idp.url,
        });
      });
      afterAll(async () => {
        await app?.close();
        await idp?.close();
        await backend.cleanup();
      });

      const keysWith = (token: string | undefined) =>
        app.inject({
          url: "/keys",
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        });

      it("accepts a token of the configured issuer and audience, fetched by JWKS", async () => {
        const response = await keysWith(await idp.sign({}));
        expect(response.statusCode, response.body).toBe(200);
      });

      it("refuses wrong issuer, wrong audience, expired, foreign key, unsigned, HS256 and unknown-user tokens", async () => {
        const other = await generateKeyPair("ES256");
        const now = Math.floor(Date.now() / 1000);
        const hs256 = await new SignJWT({ sub: "alice" })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime(now + 600)
          .sign(new TextEncoder().encode("x".repeat(32)));
        const devToken = (
          await app.inject({ method: "POST", url: "/dev/token", payload: { userId: "alice" } })
        ).json().token;
        const tokens: Record<string, string | undefined> = {
          none: undefined,
          garbage: "not-a-token",
          wrongIssuer: await idp.sign({ iss: "https://evil.example" }),
          wrongAudience: await idp.sign({ aud: "another-service" }),
          expired: await idp.sign({ exp: now - 120 }),
          foreignKey: await idp.sign({}, other.privateKey),
          unsigned: new UnsecuredJWT({ sub: "alice" })
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .setExpirationTime(now + 600)
            .encode(),
          hs256,
          unknownUser: await idp.sign({ sub: "mallory" }),
          // The development issuer's key is not in the configured JWKS: its tokens do not pass either.
          devIssuer: devToken,
        };
        const before = await stateSnapshot(app.services.db);
        for (const [name, token] of Object.entries(tokens)) {
          const response = await keysWith(token);
          expect(response.statusCode, name).toBe(401);
          expect(response.json(), name).toMatchObject({ code: "UNAUTHENTICATED" });
          const request = await app.inject({
            method: "POST",
            url: "/pairing/password/request",
            headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
            payload: { vehicleId: "VH-DEMO-1", deviceInfo: DEVICE_INFO },
          });
          expect(request.statusCode, name).toBe(401);
        }
        expect(await stateSnapshot(app.services.db)).toEqual(before);
      });

      it("serves health, readiness, metrics, the docs UI and a well-formed OpenAPI document", async () => {
        expect((await app.inject({ url: "/healthz" })).json()).toEqual({ status: "ok" });
        expect((await app.inject({ url: "/readyz" })).json()).toEqual({
          status: "ready",
          database: "ok",
          mqtt: "ok",
        });
        const metrics = await app.inject({ url: "/metrics" });
        for (const name of [
          "pairkit_http_requests_total",
          "pairkit_password_requests_total",
          "pairkit_pairings_total",
          "pairkit_pairing_attempts_total",
          "pairkit_password_derivation_queue_depth",
        ]) {
          expect(metrics.body).toContain(name);
        }
        expect((await app.inject({ url: "/docs/" })).headers["content-type"]).toMatch(/text\/html/);

        const spec = (await app.inject({ url: "/openapi.json" })).json();
        expect(spec.openapi).toBe("3.1.0");
        // Validated against the official OpenAPI 3.1 schema, $refs resolved, by an independent parser.
        await expect(SwaggerParser.validate(structuredClone(spec))).resolves.toBeDefined();
        for (const path of [
          "/pairing/password/request",
          "/pairing/session/start",
          "/pairing/config/confirm",
          "/pairing/kts/response",
        ]) {
          const op = spec.paths[path]?.post;
          expect(op, path).toBeDefined();
          expect(op.requestBody.content["application/json"].schema, path).toBeDefined();
          expect(Object.keys(op.responses), path).toEqual(expect.arrayContaining(["200", "4XX", "5XX"]));
        }
        // The web console's routes (issue 8) are described too.
        for (const [method, path] of [
          ["get", "/me/vehicles"],
          ["get", "/admin/sessions"],
          ["get", "/admin/transactions"],
          ["get", "/admin/keys"],
          ["get", "/admin/attestations"],
          ["get", "/admin/audit"],
          ["get", "/admin/events"],
          ["post", "/admin/keys/{keyId}/revoke"],
          ["get", "/dev/trust-anchors"],
          ["get", "/dev/cards"],
        ] as const) {
          const op = spec.paths[path]?.[method];
          expect(op, path).toBeDefined();
          expect(Object.keys(op.responses), path).toEqual(expect.arrayContaining(["4XX", "5XX"]));
        }
        expect(Object.keys(spec.paths["/admin/events"].get.responses["200"].content)).toEqual([
          "text/event-stream",
        ]);
        // Every $ref resolves inside the document.
        const refs = JSON.stringify(spec).match(/"\$ref":"[^"]+"/g) ?? [];
        for (const ref of refs) {
          const pointer = ref.slice(8, -1);
          expect(pointer.startsWith("#/"), pointer).toBe(true);
          const target = pointer
            .slice(2)
            .split("/")
            .reduce(
              (node: Record<string, unknown> | undefined, part) =>
                node?.[part] as Record<string, unknown> | undefined,
              spec,
            );
          expect(target, pointer).toBeDefined();
        }
      });
    },
  );
}

describe("production mode", () => {
  it("has no development endpoints", async () => {
    const config = loadConfig({
      PAIRKIT_MODE: "production",
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_JWKS_URL: "http://127.0.0.1:9/jwks.json",
      JWT_JWKS_ALLOW_HTTP: "true",
      KTS_PRIVATE_KEY: "11".repeat(32),
      SMTP_URL: "smtp://127.0.0.1:9",
      PORTAL_LINK_BASE: "https://cars.example.test/pair",
      MQTT_PORT: "0",
      LOG_LEVEL: "silent",
    });
    const { buildServer } = await import("../src/app.ts");
    // Fixtures handed over by mistake must still not be served.
    const app = await buildServer(
      { ...config, database: { kind: "pglite", dataDir: undefined } },
      { devFixtures: { trustAnchors: () => [new Uint8Array([0x30, 0x00])], cards: () => [] } },
    );
    try {
      for (const url of ["/dev/token", "/dev/vehicles/VH-DEMO-1/credentials"]) {
        const response = await app.inject({ method: "POST", url, payload: { userId: "alice" } });
        expect(response.statusCode, url).toBe(404);
      }
      for (const url of ["/dev/trust-anchors", "/dev/cards", "/dev/mailbox", "/dev/jwks.json"]) {
        const response = await app.inject({ url });
        expect(response.statusCode, url).toBe(404);
        expect(response.json(), url).toMatchObject({ code: "NOT_FOUND" });
      }
      // The admin console's routes exist in production, for administrators only.
      expect((await app.inject({ url: "/admin/sessions" })).json()).toMatchObject({
        code: "UNAUTHENTICATED",
      });
    } finally {
      await app.close();
    }
  });
});
