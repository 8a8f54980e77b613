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
  /**
   * Where the e-mailed one-time link points (`<linkBase>#token=…`): the carmaker's app or web page,
   * which redeems the token with `POST /portal/redeem`. Development: the web console's page.
   */
  readonly linkBase: string;
  /** Lifetime of an e-mailed one-time link (DESIGN.md: one-time secrets expire within 10 minutes). */
  readonly linkTtlSeconds: number;
  /** Wrong PINs in a row before the PIN is locked. */
  readonly pinMaxFailures: number;
  readonly pinLockoutSeconds: number;
  /**
   * Portal and hotline requests per VIN per hour *from one requester* (client address, or hotline
   * agent), whatever the outcome: one requester cannot use up another's budget for the vehicle.
   */
  readonly requestsPerVinPerHour: number;
}

export interface HttpConfig {
  /** Longest a client may take to send a whole request, headers and body (Node's requestTimeout). */
  readonly requestTimeoutMs: number;
  /** Longest a client may take to send the request headers (Node's headersTimeout). */
  readonly headersTimeoutMs: number;
  /**
   * Fastify's `trustProxy`: false, true, or the proxies' addresses/CIDRs; decides which client
   * address per-requester limits see.
   */
  readonly trustProxy: boolean | string;
  /** Serve `/docs` and `/openapi.json` (development default on, production default off). */
  readonly apiDocs: boolean;
  /**
   * `/metrics` access: `open` (development default), `token` (needs `Authorization: Bearer
   * METRICS_TOKEN`), or `off` (production default without METRICS_TOKEN).
   */
  readonly metrics:
    | { readonly access: "open" | "off" }
    | { readonly access: "token"; readonly token: string };
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
  readonly http: HttpConfig;
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
 * issuer, a KTS key, an SMTP server and a portal link base, so that a development default can never
 * run by accident; the refusal names every missing variable at once.
 */
export function loadConfig(env: Env): ServerConfig {
  const mode = oneOf(env, "PAIRKIT_MODE", ["development", "production"] as const, "development");
  const production = mode === "production";
  const missing: string[] = [];
  /** The variable's value, or in production a note that it is missing (reported together at the end). */
  const requiredInProduction = (variable: string): string | undefined => {
    const raw = env[variable];
    if ((raw === undefined || raw === "") && production) missing.push(variable);
    return raw === "" ? undefined : raw;
  };

  const port = integer(env, "PORT", 8080, 0, 65535);
  const host = env.HOST ?? "127.0.0.1";
  const publicUrl = url(env, "PUBLIC_URL", `http://${host}:${port}`).replace(/\/+$/, "");

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

  const issuer = requiredInProduction("JWT_ISSUER");
  const audience = requiredInProduction("JWT_AUDIENCE");
  const jwksUrl =
    requiredInProduction("JWT_JWKS_URL") === undefined ? undefined : url(env, "JWT_JWKS_URL", "");
  // Keys fetched over plain HTTP can be swapped on the way: production needs an explicit opt-in.
  if (
    production &&
    jwksUrl !== undefined &&
    new URL(jwksUrl).protocol !== "https:" &&
    boolean(env, "JWT_JWKS_ALLOW_HTTP", false) !== true
  ) {
    throw new ConfigError(
      "JWT_JWKS_URL",
      "must be https:// in production (JWT_JWKS_ALLOW_HTTP=true overrides)",
    );
  }
  const jwt: JwtConfig = {
    issuer: issuer ?? `${publicUrl}/dev`,
    audience: audience ?? "pairkit",
    jwksUrl,
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

  const ktsKeyHex = requiredInProduction("KTS_PRIVATE_KEY");
  let ktsPrivateKey: Uint8Array | undefined;
  if (ktsKeyHex !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(ktsKeyHex))
      throw new ConfigError("KTS_PRIVATE_KEY", "expected 64 hex digits");
    ktsPrivateKey = fromHex(ktsKeyHex);
  }

  const from = env.MAIL_FROM ?? "pairkit <no-reply@pairkit.invalid>";
  const mail: MailConfig =
    requiredInProduction("SMTP_URL") !== undefined
      ? { kind: "smtp", url: url(env, "SMTP_URL", ""), from }
      : { kind: "sink", host: "127.0.0.1", port: integer(env, "SMTP_SINK_PORT", 2525, 0, 65535), from };

  const linkBase =
    requiredInProduction("PORTAL_LINK_BASE") === undefined
      ? `${publicUrl}/portal/redeem`
      : url(env, "PORTAL_LINK_BASE", "");
  // The token travels in the fragment (`#token=…`), which browsers never send to a server.
  if (new URL(linkBase).hash !== "") throw new ConfigError("PORTAL_LINK_BASE", "must not have a #fragment");

  const metricsToken = env.METRICS_TOKEN || undefined;
  if (metricsToken !== undefined && !/^[\x21-\x7e]{32,256}$/.test(metricsToken))
    throw new ConfigError("METRICS_TOKEN", "expected 32–256 printable ASCII characters");
  const metricsAccess = oneOf(
    env,
    "METRICS_ACCESS",
    ["open", "token", "off"] as const,
    metricsToken !== undefined ? "token" : production ? "off" : "open",
  );
  if (metricsAccess === "token" && metricsToken === undefined) missing.push("METRICS_TOKEN");

  const requestTimeoutMs = integer(env, "REQUEST_TIMEOUT_MS", 30_000, 100, 300_000);

  const seedDemoData = boolean(env, "SEED_DEMO_DATA", !production);
  if (seedDemoData && production) {
    throw new ConfigError("SEED_DEMO_DATA", "demo data is only seeded in development mode");
  }

  if (missing.length > 0) {
    throw new ConfigError(missing.join(", "), production ? "required in production mode" : "required");
  }

  return {
    mode,
    host,
    port,
    publicUrl,
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
      linkBase,
      linkTtlSeconds: integer(env, "PORTAL_LINK_TTL_SECONDS", 600, 60, 600),
      pinMaxFailures: integer(env, "PIN_MAX_FAILURES", 5, 1, 20),
      pinLockoutSeconds: integer(env, "PIN_LOCKOUT_SECONDS", 900, 60, 86_400),
      requestsPerVinPerHour: integer(env, "PORTAL_REQUESTS_PER_VIN_PER_HOUR", 10, 1, 1000),
    },
    http: {
      requestTimeoutMs,
      headersTimeoutMs: Math.min(integer(env, "HEADERS_TIMEOUT_MS", 10_000, 100, 300_000), requestTimeoutMs),
      trustProxy: trustProxy(env),
      apiDocs: boolean(env, "API_DOCS", !production),
      metrics:
        metricsAccess === "token" ? { access: "token", token: metricsToken! } : { access: metricsAccess },
    },
    ktsPrivateKey,
    maintenanceIntervalSeconds: integer(env, "MAINTENANCE_INTERVAL_SECONDS", 30, 1, 3600),
    seedDemoData,
    eventStreamsMax: integer(env, "EVENT_STREAMS_MAX", 20, 1, 1000),
  };
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

function boolean(env: Env, variable: string, fallback: boolean): boolean {
  return oneOf(env, variable, ["true", "false"] as const, fallback ? "true" : "false") === "true";
}

/** `false` (default), `true`, or a comma-separated list of proxy addresses/CIDRs. */
function trustProxy(env: Env): boolean | string {
  const raw = env.TRUST_PROXY;
  if (raw === undefined || raw === "" || raw === "false") return false;
  if (raw === "true") return true;
  if (/^[0-9a-fA-F.:/]+(?:\s*,\s*[0-9a-fA-F.:/]+)*$/.test(raw)) return raw;
  throw new ConfigError("TRUST_PROXY", "expected true, false or proxy addresses/CIDRs");
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
