import { checkScryptParams, fromHex, type ScryptParams } from "@pairkit/core";
import { ConfigError } from "./errors.ts";

export type ServerMode = "development" | "production";

export type DatabaseConfig =
  /** Embedded PGlite; `dataDir` undefined keeps the data in memory (tests). */
  | { readonly kind: "pglite"; readonly dataDir: string | undefined }
  /** PostgreSQL (or a compatible database); `schema` isolates one deployment or test run. */
  | { readonly kind: "postgres"; readonly url: string; readonly schema: string };

export type MqttConfig =
  /** The embedded aedes broker, listening for vehicles on host:port (port 0 picks a free one). */
  | { readonly kind: "embedded"; readonly host: string; readonly port: number }
  /** An external broker; the server connects with its own credential. */
  | {
      readonly kind: "external";
      readonly url: string;
      readonly username: string | undefined;
      readonly password: string | undefined;
    };

export interface JwtConfig {
  readonly issuer: string;
  readonly audience: string;
  /** Where the issuer publishes its keys; undefined in development, where the server is the issuer. */
  readonly jwksUrl: string | undefined;
}

export interface PairingConfig {
  /** Lifetime of a pairing password (DESIGN.md: at most 10 minutes). */
  readonly expirySeconds: number;
  readonly maxAttempts: number;
  readonly scrypt: ScryptParams;
  /** How long a password request waits for the vehicle to acknowledge its verifier. */
  readonly vehicleAckTimeoutMs: number;
  /** Password requests per user and vehicle per hour. */
  readonly requestsPerHour: number;
}

export interface DerivationConfig {
  /** scrypt derivations running at once (each takes one libuv thread and 32 MiB at N=32768). */
  readonly concurrency: number;
  /** Derivations allowed to wait; beyond it requests get 503 + Retry-After. */
  readonly maxQueue: number;
}

export type MailConfig =
  /** Development: an in-process SMTP sink that keeps messages in memory (`GET /dev/mailbox`). */
  | { readonly kind: "sink"; readonly host: string; readonly port: number; readonly from: string }
  | { readonly kind: "smtp"; readonly url: string; readonly from: string };

export interface PortalConfig {
  /** Lifetime of an e-mailed one-time link (DESIGN.md: one-time secrets expire within 10 minutes). */
  readonly linkTtlSeconds: number;
  /** Wrong PINs in a row before the PIN is locked. */
  readonly pinMaxFailures: number;
  readonly pinLockoutSeconds: number;
  /** Portal requests per VIN per hour, whatever the outcome (bounds guessing of VIN/e-mail pairs). */
  readonly requestsPerVinPerHour: number;
}

export interface ServerConfig {
  readonly mode: ServerMode;
  readonly host: string;
  readonly port: number;
  /** Base URL clients reach the server at; deep links and ktsEndpointUrl are built from it. */
  readonly publicUrl: string;
  readonly bodyLimitBytes: number;
  readonly logLevel: string;
  readonly database: DatabaseConfig;
  readonly mqtt: MqttConfig;
  readonly jwt: JwtConfig;
  readonly pairing: PairingConfig;
  readonly derivation: DerivationConfig;
  readonly mail: MailConfig;
  readonly portal: PortalConfig;
  /** KTS signing key (32-byte P-256 scalar); generated per process in development when unset. */
  readonly ktsPrivateKey: Uint8Array | undefined;
  /** Period of the upkeep job (expiry, e-mail retries, revocation retries). */
  readonly maintenanceIntervalSeconds: number;
  /** Seed demo users, owners, vehicles and subscriptions at startup (development only). */
  readonly seedDemoData: boolean;
  /** Admin console event streams (`GET /admin/events`) open at once, per process. */
  readonly eventStreamsMax: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The server's whole configuration, read once from the environment at the edge (CLI) and passed
 * down; nothing below reads `process.env`. Production refuses to start without an external JWT
 * issuer and a KTS key, so that a development default can never run by accident.
 */
export function loadConfig(env: Env): ServerConfig {
  const mode = oneOf(env, "PAIRKIT_MODE", ["development", "production"] as const, "development");
  const port = integer(env, "PORT", 8080, 0, 65535);
  const host = env.HOST ?? "127.0.0.1";
  const publicUrl = url(env, "PUBLIC_URL", `http://${host}:${port}`);

  const database: DatabaseConfig = env.DATABASE_URL
    ? {
        kind: "postgres",
        url: url(env, "DATABASE_URL", ""),
        schema: identifier(env, "DATABASE_SCHEMA", "public"),
      }
    : {
        kind: "pglite",
        dataDir: env.PGLITE_DIR === "memory" ? undefined : (env.PGLITE_DIR ?? ".pairkit/db"),
      };

  const mqtt: MqttConfig = env.MQTT_URL
    ? {
        kind: "external",
        url: url(env, "MQTT_URL", ""),
        username: env.MQTT_USERNAME,
        password: env.MQTT_PASSWORD,
      }
    : {
        kind: "embedded",
        host: env.MQTT_HOST ?? "127.0.0.1",
        port: integer(env, "MQTT_PORT", 1883, 0, 65535),
      };

  const jwt: JwtConfig = {
    issuer: env.JWT_ISSUER ?? (mode === "development" ? `${publicUrl}/dev` : required("JWT_ISSUER")),
    audience: env.JWT_AUDIENCE ?? (mode === "development" ? "pairkit" : required("JWT_AUDIENCE")),
    jwksUrl:
      env.JWT_JWKS_URL !== undefined
        ? url(env, "JWT_JWKS_URL", "")
        : mode === "development"
          ? undefined
          : required("JWT_JWKS_URL"),
  };

  const scrypt: ScryptParams = {
    N: integer(env, "SCRYPT_N", 32768, 2, 1 << 20),
    r: integer(env, "SCRYPT_R", 8, 1, 16),
    p: integer(env, "SCRYPT_P", 1, 1, 4),
  };
  try {
    checkScryptParams(scrypt);
  } catch (cause) {
    throw new ConfigError("SCRYPT_N/R/P", cause instanceof Error ? cause.message : "invalid");
  }

  const ktsKeyHex = env.KTS_PRIVATE_KEY;
  if (mode === "production" && ktsKeyHex === undefined) required("KTS_PRIVATE_KEY");
  let ktsPrivateKey: Uint8Array | undefined;
  if (ktsKeyHex !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(ktsKeyHex))
      throw new ConfigError("KTS_PRIVATE_KEY", "expected 64 hex digits");
    ktsPrivateKey = fromHex(ktsKeyHex);
  }

  const from = env.MAIL_FROM ?? "pairkit <no-reply@pairkit.invalid>";
  let mail: MailConfig;
  if (env.SMTP_URL) mail = { kind: "smtp", url: url(env, "SMTP_URL", ""), from };
  else if (mode === "development") {
    mail = { kind: "sink", host: "127.0.0.1", port: integer(env, "SMTP_SINK_PORT", 2525, 0, 65535), from };
  } else required("SMTP_URL");

  const seedDemoData = oneOf(
    env,
    "SEED_DEMO_DATA",
    ["true", "false"] as const,
    mode === "development" ? "true" : "false",
  );
  if (seedDemoData === "true" && mode !== "development") {
    throw new ConfigError("SEED_DEMO_DATA", "demo data is only seeded in development mode");
  }

  return {
    mode,
    host,
    port,
    publicUrl: publicUrl.replace(/\/+$/, ""),
    bodyLimitBytes: integer(env, "BODY_LIMIT_BYTES", 16 * 1024, 1024, 1024 * 1024),
    logLevel: oneOf(
      env,
      "LOG_LEVEL",
      ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const,
      "info",
    ),
    database,
    mqtt,
    jwt,
    pairing: {
      expirySeconds: integer(env, "PAIRING_EXPIRY_SECONDS", 600, 30, 600),
      maxAttempts: integer(env, "PAIRING_MAX_ATTEMPTS", 5, 1, 20),
      scrypt,
      vehicleAckTimeoutMs: integer(env, "VEHICLE_ACK_TIMEOUT_MS", 10_000, 100, 120_000),
      requestsPerHour: integer(env, "PASSWORD_REQUESTS_PER_HOUR", 5, 1, 1000),
    },
    derivation: {
      concurrency: integer(env, "DERIVATION_CONCURRENCY", 2, 1, 64),
      maxQueue: integer(env, "DERIVATION_QUEUE_MAX", 32, 0, 10_000),
    },
    mail,
    portal: {
      linkTtlSeconds: integer(env, "PORTAL_LINK_TTL_SECONDS", 600, 60, 600),
      pinMaxFailures: integer(env, "PIN_MAX_FAILURES", 5, 1, 20),
      pinLockoutSeconds: integer(env, "PIN_LOCKOUT_SECONDS", 900, 60, 86_400),
      requestsPerVinPerHour: integer(env, "PORTAL_REQUESTS_PER_VIN_PER_HOUR", 10, 1, 1000),
    },
    ktsPrivateKey,
    maintenanceIntervalSeconds: integer(env, "MAINTENANCE_INTERVAL_SECONDS", 30, 1, 3600),
    seedDemoData: seedDemoData === "true",
    eventStreamsMax: integer(env, "EVENT_STREAMS_MAX", 20, 1, 1000),
  };
}

function required(variable: string): never {
  throw new ConfigError(variable, "required in production mode");
}

function integer(env: Env, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(variable, "expected a non-negative integer");
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(variable, `expected a value in [${min}, ${max}]`);
  return value;
}

function oneOf<T extends string>(env: Env, variable: string, values: readonly T[], fallback: T): T {
  const raw = env[variable];
  if (raw === undefined || raw === "") return fallback;
  if (!(values as readonly string[]).includes(raw)) {
    throw new ConfigError(variable, `expected one of ${values.join(", ")}`);
  }
  return raw as T;
}

function url(env: Env, variable: string, fallback: string): string {
  const raw = env[variable] || fallback;
  try {
    new URL(raw);
  } catch {
    // The value may hold credentials (DATABASE_URL, MQTT_URL): never echo it.
    throw new ConfigError(variable, "not a valid URL");
  }
  return raw;
}

function identifier(env: Env, variable: string, fallback: string): string {
  const raw = env[variable] || fallback;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw))
    throw new ConfigError(variable, "expected a lower-case SQL identifier");
  return raw;
}
