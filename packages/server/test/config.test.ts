import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";

describe("loadConfig", () => {
  it("defaults to a single-machine development setup", () => {
    const config = loadConfig({});
    expect(config.mode).toBe("development");
    expect(config.database).toEqual({ kind: "pglite", dataDir: ".pairkit/db" });
    expect(config.mqtt).toEqual({ kind: "embedded", host: "127.0.0.1", port: 1883 });
    expect(config.jwt).toEqual({
      issuer: "http://127.0.0.1:8080/dev",
      audience: "pairkit",
      jwksUrl: undefined,
    });
    expect(config.pairing).toMatchObject({
      expirySeconds: 600,
      maxAttempts: 5,
      scrypt: { N: 32768, r: 8, p: 1 },
    });
    expect(config.seedDemoData).toBe(true);
  });

  it("reads Postgres and an external broker from URLs", () => {
    const config = loadConfig({
      DATABASE_URL: "postgres://u:secret@db:5432/pairkit",
      DATABASE_SCHEMA: "tenant_a",
      MQTT_URL: "mqtts://broker:8883",
      MQTT_USERNAME: "server",
      MQTT_PASSWORD: "pw",
    });
    expect(config.database).toEqual({
      kind: "postgres",
      url: "postgres://u:secret@db:5432/pairkit",
      schema: "tenant_a",
    });
    expect(config.mqtt).toEqual({
      kind: "external",
      url: "mqtts://broker:8883",
      username: "server",
      password: "pw",
    });
  });

  it("refuses production without an external issuer and a KTS key", () => {
    expect(() => loadConfig({ PAIRKIT_MODE: "production" })).toThrow(ConfigError);
    expect(() =>
      loadConfig({
        PAIRKIT_MODE: "production",
        JWT_ISSUER: "https://id.example.com",
        JWT_AUDIENCE: "pairkit",
        JWT_JWKS_URL: "https://id.example.com/jwks.json",
      }),
    ).toThrow(/KTS_PRIVATE_KEY/);
    const config = loadConfig({
      PAIRKIT_MODE: "production",
      JWT_ISSUER: "https://id.example.com",
      JWT_AUDIENCE: "pairkit",
      JWT_JWKS_URL: "https://id.example.com/jwks.json",
      KTS_PRIVATE_KEY: "11".repeat(32),
      SMTP_URL: "smtps://mailer:secret@smtp.example.com",
      PORTAL_LINK_BASE: "https://cars.example.com/pair",
    });
    expect(config.seedDemoData).toBe(false);
    expect(config.portal.linkBase).toBe("https://cars.example.com/pair");
    expect(config.http).toMatchObject({ apiDocs: false, metrics: { access: "off" }, trustProxy: false });
    expect(config.mail).toEqual({
      kind: "smtp",
      url: "smtps://mailer:secret@smtp.example.com",
      from: expect.any(String),
    });
    expect(() => loadConfig({ PAIRKIT_MODE: "production", SEED_DEMO_DATA: "true" })).toThrow(ConfigError);
  });

  it("names every missing production variable in one refusal", () => {
    expect(() => loadConfig({ PAIRKIT_MODE: "production" })).toThrow(
      "JWT_ISSUER, JWT_AUDIENCE, JWT_JWKS_URL, KTS_PRIVATE_KEY, SMTP_URL, PORTAL_LINK_BASE: required in production mode",
    );
    expect(() => loadConfig({ METRICS_ACCESS: "token" })).toThrow("METRICS_TOKEN: required");
  });

  it("refuses a plain-HTTP JWKS in production unless explicitly allowed", () => {
    const production = {
      PAIRKIT_MODE: "production",
      JWT_ISSUER: "https://id.example.com",
      JWT_AUDIENCE: "pairkit",
      JWT_JWKS_URL: "http://id.example.com/jwks.json",
      KTS_PRIVATE_KEY: "11".repeat(32),
      SMTP_URL: "smtp://smtp.example.com",
      PORTAL_LINK_BASE: "https://cars.example.com/pair",
    };
    expect(() => loadConfig(production)).toThrow(/JWT_JWKS_URL: must be https/);
    expect(loadConfig({ ...production, JWT_JWKS_ALLOW_HTTP: "true" }).jwt.jwksUrl).toBe(
      "http://id.example.com/jwks.json",
    );
    // Development (a local identity provider under test) takes it as it is.
    expect(loadConfig({ JWT_JWKS_URL: "http://127.0.0.1:9/jwks.json" }).jwt.jwksUrl).toBe(
      "http://127.0.0.1:9/jwks.json",
    );
  });

  it("reads the portal link base, HTTP timeouts, proxies, docs and metrics exposure", () => {
    const dev = loadConfig({ PUBLIC_URL: "https://api.example.com/" });
    expect(dev.portal.linkBase).toBe("https://api.example.com/portal/redeem");
    expect(dev.http).toEqual({
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      trustProxy: false,
      apiDocs: true,
      metrics: { access: "open" },
    });
    expect(() => loadConfig({ PORTAL_LINK_BASE: "https://cars.example.com/pair#x" })).toThrow(
      /PORTAL_LINK_BASE/,
    );
    const token = "t".repeat(40);
    const custom = loadConfig({
      REQUEST_TIMEOUT_MS: "2000",
      HEADERS_TIMEOUT_MS: "5000",
      TRUST_PROXY: "10.0.0.0/8, 127.0.0.1",
      API_DOCS: "false",
      METRICS_TOKEN: token,
    });
    // The headers cannot be given longer than the whole request.
    expect(custom.http).toEqual({
      requestTimeoutMs: 2000,
      headersTimeoutMs: 2000,
      trustProxy: "10.0.0.0/8, 127.0.0.1",
      apiDocs: false,
      metrics: { access: "token", token },
    });
    expect(() => loadConfig({ METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN/);
    expect(() => loadConfig({ TRUST_PROXY: "everyone" })).toThrow(/TRUST_PROXY/);
  });

  it("rejects malformed values without echoing them", () => {
    expect(() => loadConfig({ PAIRING_EXPIRY_SECONDS: "3600" })).toThrow(/PAIRING_EXPIRY_SECONDS/);
    expect(() => loadConfig({ PORT: "http" })).toThrow(ConfigError);
    expect(() => loadConfig({ SCRYPT_N: "1000" })).toThrow(/SCRYPT/);
    expect(() => loadConfig({ DATABASE_SCHEMA: "x; drop", DATABASE_URL: "postgres://h/d" })).toThrow(
      ConfigError,
    );
    const error = (() => {
      try {
        loadConfig({ DATABASE_URL: "not a url with hunter2" });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).not.toContain("hunter2");
  });
});
