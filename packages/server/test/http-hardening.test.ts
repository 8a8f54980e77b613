import { connect } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseBackends } from "./support/databases.ts";
import { startIdentityProvider } from "./support/identity-provider.ts";
import { productionEnv, startTestServer, tokenFor } from "./support/server.ts";

const backends = await databaseBackends();
const URN = "urn:uuid:6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
const POINT = Buffer.alloc(65, 4).toString("base64");

/** Exactly the documented error body: a code and a message, nothing else. */
function expectErrorBody(body: string, code: string, context: string) {
  const parsed = JSON.parse(body);
  expect(Object.keys(parsed).sort(), context).toEqual(["code", "message"]);
  expect(parsed.code, context).toBe(code);
  expect(typeof parsed.message, context).toBe("string");
}

/** Sends raw bytes on a fresh connection and returns everything the server wrote until it closed. */
function rawExchange(port: number, chunks: readonly (string | { wait: number })[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    let closed = false;
    socket.setEncoding("utf8");
    socket.on("data", (data: string) => {
      received += data;
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      // The server may close while we are still writing; what it sent is what counts.
      if (err.code !== "ECONNRESET" && err.code !== "EPIPE") reject(err);
    });
    socket.on("close", () => {
      closed = true;
      resolve(received);
    });
    socket.on("connect", async () => {
      for (const chunk of chunks) {
        if (closed) return;
        if (typeof chunk === "string") socket.write(chunk);
        else await new Promise((r) => setTimeout(r, chunk.wait));
      }
    });
  });
}

function parseRaw(response: string): { status: number; headers: string; body: string } {
  const [head = "", body = ""] = response.split("\r\n\r\n");
  return { status: Number(head.split(" ")[1]), headers: head.toLowerCase(), body };
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `hardened input on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let app: FastifyInstance;
      let idp: Awaited<ReturnType<typeof startIdentityProvider>>;
      let external: FastifyInstance;
      beforeAll(async () => {
        app = await startTestServer(backend.fresh());
        idp = await startIdentityProvider();
        external = await startTestServer(backend.fresh(), {
          JWT_JWKS_URL: idp.url,
          JWT_ISSUER: "https://id.example.test",
          JWT_AUDIENCE: "pairkit-api",
        });
      });
      afterAll(async () => {
        await app?.close();
        await external?.close();
        await idp?.close();
        await backend.cleanup();
      });

      it("answers schema-valid but unusable input with 400 and the error body, never 500", async () => {
        const alice = await tokenFor(app, "alice");
        const erin = await tokenFor(app, "erin");
        const as = (token: string) => ({ authorization: `Bearer ${token}` });
        const attestation = {
          signature: Buffer.alloc(70, 1).toString("base64"),
          issuedAt: new Date().toISOString(),
        };
        const cases: {
          name: string;
          method: "POST" | "PUT";
          url: string;
          token?: string;
          payload: object;
        }[] = [
          // ajv's uuid format takes the URN form; PostgreSQL's uuid type does not.
          { name: "urn keyId", method: "POST", url: `/keys/${URN}/revoke`, token: alice, payload: {} },
          {
            name: "urn admin keyId",
            method: "POST",
            url: `/admin/keys/${URN}/revoke`,
            token: erin,
            payload: {},
          },
          {
            name: "urn sessionId",
            method: "POST",
            url: "/pairing/session/start",
            token: alice,
            payload: {
              sessionId: URN,
              devicePublicInfo: { deviceNonce: Buffer.alloc(16).toString("base64"), pointX: POINT },
            },
          },
          {
            name: "urn transactionId (config)",
            method: "POST",
            url: "/pairing/config/confirm",
            token: alice,
            payload: {
              transactionId: URN,
              configDigest: "00".repeat(32),
              endpointIdHash: "00".repeat(16),
              seStatus: 0,
            },
          },
          {
            name: "urn transactionId (kts response)",
            method: "POST",
            url: "/pairing/kts/response",
            token: alice,
            payload: { transactionId: URN, keyAttestation: attestation },
          },
          {
            name: "urn transactionId (kts registration)",
            method: "POST",
            url: "/kts/attestations",
            token: alice,
            payload: { transactionId: URN, endpointPublicKey: POINT },
          },
          // PostgreSQL refuses NUL in text.
          {
            name: "NUL in displayName",
            method: "POST",
            url: "/admin/users",
            token: erin,
            payload: { id: "nul-user", email: "nul@example.com", displayName: "Nul\u0000", role: "customer" },
          },
          {
            name: "NUL in /dev/token userId",
            method: "POST",
            url: "/dev/token",
            payload: { userId: "alice\u0000" },
          },
          {
            name: "NUL in vehicle model",
            method: "POST",
            url: "/admin/vehicles",
            token: erin,
            payload: {
              id: "VH-NUL",
              vin: "WPKNUL00000000001",
              model: "M\u0000",
              identityPublicKey: POINT,
              policyFlags: 0,
            },
          },
          // 24 base64 characters that decode to 18 and to 17 bytes, where 16 are required.
          ...["A".repeat(24), `${"A".repeat(23)}=`, `${"A".repeat(21)}B==`].map((deviceNonce) => ({
            name: `deviceNonce ${deviceNonce}`,
            method: "POST" as const,
            url: "/pairing/session/start",
            token: alice,
            payload: {
              sessionId: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
              devicePublicInfo: { deviceNonce, pointX: POINT },
            },
          })),
          // The leap second passes ajv's date-time format; JavaScript's Date cannot hold it.
          {
            name: "leap second validUntil",
            method: "PUT",
            url: "/admin/vehicles/VH-DEMO-1/subscription",
            token: erin,
            payload: { userId: "alice", validUntil: "2016-12-31T23:59:60Z" },
          },
          {
            name: "leap second issuedAt",
            method: "POST",
            url: "/pairing/kts/response",
            token: alice,
            payload: {
              transactionId: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
              keyAttestation: { ...attestation, issuedAt: "2016-12-31T23:59:60Z" },
            },
          },
        ];
        for (const c of cases) {
          const response = await app.inject({
            method: c.method,
            url: c.url,
            headers: c.token ? as(c.token) : {},
            payload: c.payload,
          });
          expect(response.statusCode, `${c.name}: ${response.body}`).toBe(400);
          expectErrorBody(response.body, "BAD_REQUEST", c.name);
        }
      });

      it("authenticates a token only when its sub is a plain user id string", async () => {
        const keys = (token: string) =>
          external.inject({ url: "/keys", headers: { authorization: `Bearer ${token}` } });
        expect((await keys(await idp.sign({ sub: "alice" }))).statusCode).toBe(200);
        for (const sub of [["erin"], ["erin", "alice"], "erin\u0000", 42, { id: "erin" }, ""]) {
          const response = await keys(await idp.sign({ sub: sub as string }));
          expect(response.statusCode, JSON.stringify(sub)).toBe(401);
          expectErrorBody(response.body, "UNAUTHENTICATED", JSON.stringify(sub));
        }
      });

      it("is not ready while the identity provider's keys cannot be fetched", async () => {
        const server = await startTestServer(backend.fresh(), {
          JWT_JWKS_URL: idp.url,
          JWT_ISSUER: "https://id.example.test",
          JWT_AUDIENCE: "pairkit-api",
        });
        try {
          idp.state.available = false;
          const down = await server.inject({ url: "/readyz" });
          expect(down.statusCode).toBe(503);
          expect(down.json()).toMatchObject({ code: "NOT_READY", message: expect.stringContaining("JWKS") });
          idp.state.available = true;
          expect((await server.inject({ url: "/readyz" })).statusCode).toBe(200);
        } finally {
          idp.state.available = true;
          await server.close();
        }
      });
    },
  );
}

describe("HTTP edge of a listening server", () => {
  let app: FastifyInstance;
  let port: number;
  beforeAll(async () => {
    app = await startTestServer({ kind: "pglite", dataDir: undefined }, { REQUEST_TIMEOUT_MS: "400" });
    await app.listen({ host: "127.0.0.1", port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app?.close();
  });

  it("answers what Node's parser and Fastify's router refuse in the documented shape, without the URL", async () => {
    const marker = "SECRETMARKER";
    const cases: { name: string; request: string; status: number; code: string }[] = [
      {
        name: "bad Content-Length",
        request: `POST /pairing/password/request?${marker} HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n`,
        status: 400,
        code: "BAD_REQUEST",
      },
      {
        name: "Content-Length with Transfer-Encoding",
        request: `POST /pairing/password/request?${marker} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        status: 400,
        code: "BAD_REQUEST",
      },
      {
        name: "URL over the header size limit",
        request: `GET /${marker}${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        status: 431,
        code: "HEADERS_TOO_LARGE",
      },
      {
        name: "header over the size limit",
        request: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${marker}${"b".repeat(20_000)}\r\n\r\n`,
        status: 431,
        code: "HEADERS_TOO_LARGE",
      },
      {
        name: "bad percent-encoding (FST_ERR_BAD_URL)",
        request: `POST /keys/%E0%A4%A${marker}/revoke HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        status: 400,
        code: "BAD_REQUEST",
      },
      {
        name: "path parameter over maxParamLength",
        request: `POST /keys/${marker}${"c".repeat(200)}/revoke HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        status: 414,
        code: "URI_TOO_LONG",
      },
    ];
    for (const c of cases) {
      const response = parseRaw(await rawExchange(port, [c.request]));
      expect(response.status, c.name).toBe(c.status);
      expect(response.headers, c.name).toContain("content-type: application/json");
      expect(response.headers, c.name).toContain("x-content-type-options: nosniff");
      expectErrorBody(response.body, c.code, c.name);
      expect(response.body, c.name).not.toContain(marker);
    }
  });

  it("closes a request whose body or headers drip in slower than REQUEST_TIMEOUT_MS allows", async () => {
    // 1 byte every 150 ms of a 64-byte body would take ~10 s; the server gives the request 400 ms.
    const drip = Array.from({ length: 64 }, () => ["x", { wait: 150 }] as const).flat();
    const body = parseRaw(
      await rawExchange(port, [
        "POST /portal/redeem HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n",
        ...drip,
      ]),
    );
    expect(body.status).toBe(408);
    expectErrorBody(body.body, "REQUEST_TIMEOUT", "body drip");
    const headers = parseRaw(
      await rawExchange(port, [
        "GET /healthz HTTP/1.1\r\n",
        ...Array.from({ length: 64 }, () => ["X-A: b\r\n", { wait: 150 }] as const).flat(),
      ]),
    );
    expect(headers.status).toBe(408);
    expectErrorBody(headers.body, "REQUEST_TIMEOUT", "header drip");
  });
});

describe("response headers and operational endpoints", () => {
  let idp: Awaited<ReturnType<typeof startIdentityProvider>>;
  beforeAll(async () => {
    idp = await startIdentityProvider();
  });
  afterAll(async () => {
    await idp?.close();
  });
  const memory = { kind: "pglite", dataDir: undefined } as const;

  it("marks secret-bearing and error replies no-store and nosniff; no HSTS in development", async () => {
    const app = await startTestServer(memory);
    try {
      const erin = await tokenFor(app, "erin");
      const replies = {
        devToken: await app.inject({ method: "POST", url: "/dev/token", payload: { userId: "alice" } }),
        vehicleCredentials: await app.inject({
          method: "POST",
          url: "/dev/vehicles/VH-DEMO-2/credentials",
          payload: {},
        }),
        adminVehicle: await app.inject({
          method: "POST",
          url: "/admin/vehicles",
          headers: { authorization: `Bearer ${erin}` },
          payload: {
            id: "VH-HDR",
            vin: "WPKHDR00000000001",
            model: "H",
            identityPublicKey: Buffer.from(app.services.crypto.generateKeyPair().publicKey).toString(
              "base64",
            ),
            policyFlags: 0,
          },
        }),
        redeem: await app.inject({
          method: "POST",
          url: "/portal/redeem",
          payload: { token: "A".repeat(43) },
        }),
        passwordRequest: await app.inject({ method: "POST", url: "/pairing/password/request", payload: {} }),
        notFound: await app.inject({ url: "/nothing-here" }),
      };
      expect(replies.devToken.statusCode).toBe(200);
      expect(replies.vehicleCredentials.statusCode).toBe(200);
      expect(replies.adminVehicle.statusCode, replies.adminVehicle.body).toBe(201);
      for (const [name, reply] of Object.entries(replies)) {
        expect(reply.headers["cache-control"], name).toBe("no-store");
        expect(reply.headers["x-content-type-options"], name).toBe("nosniff");
        expect(reply.headers["content-security-policy"], name).toContain("default-src 'none'");
        expect(reply.headers["strict-transport-security"], name).toBeUndefined();
      }
      // Development serves docs (with swagger-ui's own CSP) and open metrics.
      const docs = await app.inject({ url: "/docs/" });
      expect(docs.statusCode).toBe(200);
      expect(docs.headers["content-security-policy"]).toContain("script-src 'self'");
      expect(docs.headers["content-security-policy"]).not.toContain("upgrade-insecure-requests");
      expect((await app.inject({ url: "/metrics" })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it("in production: HSTS, no docs and no metrics by default; docs on request; metrics behind a token", async () => {
    const closed = await startTestServer(memory, productionEnv(idp.url));
    try {
      const health = await closed.inject({ url: "/healthz" });
      expect(health.headers["strict-transport-security"]).toMatch(/max-age=31536000/);
      for (const url of ["/docs", "/docs/", "/openapi.json", "/metrics"]) {
        const response = await closed.inject({ url });
        expect(response.statusCode, url).toBe(404);
        expectErrorBody(response.body, "NOT_FOUND", url);
      }
    } finally {
      await closed.close();
    }
    const token = "m".repeat(48);
    const open = await startTestServer(
      memory,
      productionEnv(idp.url, { API_DOCS: "true", METRICS_TOKEN: token }),
    );
    try {
      expect((await open.inject({ url: "/openapi.json" })).statusCode).toBe(200);
      const docs = await open.inject({ url: "/docs/" });
      expect(docs.statusCode).toBe(200);
      expect(docs.headers["content-security-policy"]).toContain("script-src 'self'");
      for (const authorization of [undefined, "Bearer wrong", `Bearer ${token}x`, `Basic ${token}`]) {
        const response = await open.inject({
          url: "/metrics",
          headers: authorization ? { authorization } : {},
        });
        expect(response.statusCode, authorization).toBe(401);
        expectErrorBody(response.body, "UNAUTHENTICATED", String(authorization));
      }
      const metrics = await open.inject({ url: "/metrics", headers: { authorization: `Bearer ${token}` } });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.body).toContain("pairkit_http_requests_total");
    } finally {
      await open.close();
    }
  });
});
