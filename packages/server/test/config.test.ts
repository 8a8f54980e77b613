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
    });
    expect(config.seedDemoData).toBe(false);
    expect(config.mail).toEqual({
      kind: "smtp",
      url: "smtps://mailer:secret@smtp.example.com",
      from: expect.any(String),
    });
    expect(() => loadConfig({ PAIRKIT_MODE: "production", SEED_DEMO_DATA: "true" })).toThrow(ConfigError);
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
