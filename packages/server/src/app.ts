import helmet from "@fastify/helmet";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { type Clock, type Crypto, systemClock, toHex } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import pino, { type DestinationStream, type Logger } from "pino";
import { createAuthenticator, identityKeys } from "./auth/authenticator.ts";
import { DevIssuer } from "./auth/dev-issuer.ts";
import { ChangeFeed } from "./changes/change-feed.ts";
import type { ServerConfig } from "./config.ts";
import { type Db, openDatabase } from "./db/database.ts";
import { seedDemoData } from "./db/demo-data.ts";
import { acquireServerLease } from "./db/server-lease.ts";
import { clientErrorHandler, frameworkErrorHandler, installErrorHandlers } from "./http/error-handler.ts";
import { ErrorReply } from "./http/schemas.ts";
import { closeUnusedConnectionsOnClose } from "./http/unused-connections.ts";
import { KeyTrackingSigner } from "./kts/attestation.ts";
import { serializeError } from "./log/error-serializer.ts";
import { Mailer } from "./mail/mailer.ts";
import { startMaintenance } from "./maintenance.ts";
import { Metrics } from "./metrics/metrics.ts";
import { DerivationQueue } from "./pairing/derivation-queue.ts";
import { handleVehicleEvent } from "./pairing/vehicle-events.ts";
import { OwnerPinChecks } from "./portal/owner-pin.ts";
import { adminRoutes } from "./routes/admin.ts";
import { adminConsoleRoutes } from "./routes/admin-console.ts";
import { adminEventsRoutes } from "./routes/admin-events.ts";
import { type ConsoleOptions, consoleRoutes } from "./routes/console.ts";
import { type DevFixtures, devRoutes } from "./routes/dev.ts";
import { healthRoutes } from "./routes/health.ts";
import { keysRoutes } from "./routes/keys.ts";
import { ktsRoutes } from "./routes/kts.ts";
import { meRoutes } from "./routes/me.ts";
import { pairingRoutes } from "./routes/pairing.ts";
import { portalRoutes } from "./routes/portal.ts";
import type { Services } from "./services.ts";
import {
  type EmbeddedBroker,
  SERVER_MQTT_USERNAME,
  startEmbeddedBroker,
} from "./vehicle-link/embedded-broker.ts";
import { ServerVehicleLink } from "./vehicle-link/server-link.ts";
import { authenticateVehicle } from "./vehicles/credentials.ts";

declare module "fastify" {
  interface FastifyInstance {
    services: Services;
  }
}

export interface BuildOptions {
  readonly clock?: Clock;
  readonly crypto?: Crypto;
  /** Where logs go (stdout by default); tests capture them to check redaction. */
  readonly logStream?: DestinationStream;
  /** Serve the built web console (static files, `/portal/redeem`, `/console/settings.json`). */
  readonly console?: ConsoleOptions;
  /** What `/dev/trust-anchors` and `/dev/cards` answer (development mode; e.g. the demo fleet's). */
  readonly devFixtures?: DevFixtures;
}

/** Field names whose values never reach a log line (at the top level or one level down). */
const SECRET_FIELDS = [
  "password",
  "pairingPassword",
  "pin",
  "token",
  "userToken",
  "deepLink",
  "w0",
  "L",
  "privateKey",
  "identityPrivateKey",
  "raw",
];

/**
 * Paths pino replaces with "[redacted]": the authorization header and every secret field. Fastify
 * does not log bodies; this covers headers, error details and our own calls. (pino has no recursive
 * wildcard: code must not log secrets nested deeper than one level.)
 */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]),
];

export function createLogger(config: ServerConfig, stream?: DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      serializers: {
        err: serializeError,
        // Only the path: a query string is the one place a client could put a secret in a URL.
        req: (req: { method?: string; url?: string; id?: string }) => ({
          id: req.id,
          method: req.method,
          path: req.url?.split("?")[0],
        }),
      },
    },
    stream,
  );
}

/**
 * The app factory: opens the database (migrating it), seeds demo data in development, starts
 * the embedded MQTT broker or connects to the external one, and returns a Fastify instance whose
 * `close()` releases all of it. Tests call `inject()` on it; `pairkit serve` calls `listen()`.
 */
export async function buildServer(
  config: ServerConfig,
  options: BuildOptions = {},
): Promise<FastifyInstance> {
  const clock = options.clock ?? systemClock;
  const crypto = options.crypto ?? nodeCrypto;
  const log = createLogger(config, options.logStream);
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse())
      await fn().catch((err: unknown) => log.error({ err }, "shutdown step failed"));
  };

  try {
    cleanups.push(await acquireServerLease(config));
    const db: Db = await openDatabase(config.database, (reason) =>
      log.warn(`idle database connection ended (${reason})`),
    );
    cleanups.push(() => db.destroy());
    if (config.seedDemoData) await seedDemoData(db, crypto, config.pairing.scrypt, new Date(clock.now()));

    const devIssuer =
      config.mode === "development"
        ? await DevIssuer.create(config.jwt.issuer, config.jwt.audience)
        : undefined;

    let services: Services | undefined;
    const onEvent = async (vehicleId: string, event: Parameters<typeof handleVehicleEvent>[2]) => {
      if (services) await handleVehicleEvent(services, vehicleId, event);
    };
    const onWarning = (message: string, vehicleId: string | undefined, err?: unknown) =>
      log.warn({ vehicleId, err }, `vehicle link: ${message}`);

    let link: ServerVehicleLink;
    let mqttUrl: string;
    if (config.mqtt.kind === "embedded") {
      const serverPassword = toHex(crypto.randomBytes(32));
      const broker: EmbeddedBroker = await startEmbeddedBroker({
        host: config.mqtt.host,
        port: config.mqtt.port,
        serverPassword,
        authenticateVehicle: (vehicleId, password) => authenticateVehicle(db, crypto, vehicleId, password),
        onError: (err) => log.warn({ err }, "embedded broker"),
      });
      cleanups.push(() => broker.close());
      mqttUrl = broker.url;
      link = await ServerVehicleLink.connect({
        url: broker.url,
        username: SERVER_MQTT_USERNAME,
        password: serverPassword,
        clock,
        onEvent,
        onWarning,
      });
    } else {
      mqttUrl = config.mqtt.url;
      link = await ServerVehicleLink.connect({
        url: config.mqtt.url,
        username: config.mqtt.username,
        password: config.mqtt.password,
        clock,
        onEvent,
        onWarning,
      });
    }
    cleanups.push(() => link.close());

    const mailer = await Mailer.create(db, config.mail, (err) => log.warn({ err }, "smtp sink"));
    cleanups.push(() => mailer.close());

    const derivation = new DerivationQueue(config.derivation.concurrency, config.derivation.maxQueue);
    const metrics = new Metrics(derivation);
    const keys = identityKeys(config.jwt, devIssuer);
    services = {
      config,
      db,
      crypto,
      clock,
      log,
      authenticate: createAuthenticator(config.jwt, keys, db, clock),
      identityKeys: keys,
      devIssuer,
      link,
      mqttUrl,
      derivation,
      pinChecks: await OwnerPinChecks.create(crypto, config.pairing.scrypt),
      metrics,
      // Development without KTS_PRIVATE_KEY: a per-process key (attestations do not survive a restart).
      kts: new KeyTrackingSigner(crypto, config.ktsPrivateKey ?? crypto.generateKeyPair().privateKey),
      mailer,
      changes: new ChangeFeed((err) => log.error({ err }, "change listener failed")),
    };

    const app = Fastify({
      loggerInstance: log as FastifyBaseLogger,
      bodyLimit: config.bodyLimitBytes,
      trustProxy: config.http.trustProxy,
      // A client has this long to send a whole request (the headers: headersTimeout), however slowly
      // it drips it; Node checks the deadlines every connectionsCheckingInterval. requestTimeout goes
      // in both places: Fastify overwrites the server's value with its own option after creating it.
      requestTimeout: config.http.requestTimeoutMs,
      http: {
        requestTimeout: config.http.requestTimeoutMs,
        headersTimeout: config.http.headersTimeoutMs,
        connectionsCheckingInterval: Math.min(1000, config.http.headersTimeoutMs),
      },
      clientErrorHandler,
      frameworkErrors: frameworkErrorHandler,
      // Refuse what the schema does not allow instead of silently stripping or coercing it.
      ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
      return503OnClosing: true,
    });
    app.decorate("services", services);
    closeUnusedConnectionsOnClose(app);
    const stopMaintenance = startMaintenance(services, config.maintenanceIntervalSeconds * 1000);
    cleanups.push(stopMaintenance);
    app.addHook("onClose", cleanup);
    app.addHook("onResponse", async (request, reply) => {
      metrics.httpRequests.inc({
        method: request.method,
        route: request.routeOptions.url ?? "unmatched",
        status: String(reply.statusCode),
      });
    });
    app.addSchema(ErrorReply);
    installErrorHandlers(app);

    // nosniff, no framing, no referrer, COOP/CORP, and a CSP that lets an API reply load nothing;
    // HSTS in production (served behind TLS). The console and /docs set their own CSP.
    await app.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"] },
      },
      frameguard: { action: "deny" },
      hsts: config.mode === "production" ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    });
    // API replies carry passwords, tokens and credentials: no cache keeps a reply unless its route
    // says otherwise (the console's static files do).
    app.addHook("onSend", async (_request, reply, payload) => {
      if (!reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
      return payload;
    });
    if (config.http.apiDocs) await registerApiDocs(app, config.mode === "production");

    await app.register(async (scope) => healthRoutes(scope, services));
    await app.register(async (scope) => pairingRoutes(scope, services));
    await app.register(async (scope) => ktsRoutes(scope, services));
    await app.register(async (scope) => keysRoutes(scope, services));
    await app.register(async (scope) => portalRoutes(scope, services));
    await app.register(async (scope) => adminRoutes(scope, services));
    await app.register(async (scope) => adminConsoleRoutes(scope, services));
    await app.register(async (scope) => adminEventsRoutes(scope, services));
    await app.register(async (scope) => meRoutes(scope, services));
    if (config.mode === "development")
      await app.register(async (scope) => devRoutes(scope, services, options.devFixtures));
    const consoleOptions = options.console;
    if (consoleOptions) await app.register(async (scope) => consoleRoutes(scope, consoleOptions));
    return app;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** The OpenAPI document (`/openapi.json`) and its UI (`/docs`, with swagger-ui's own CSP). */
async function registerApiDocs(app: FastifyInstance, behindTls: boolean): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "pairkit pairing backend",
        version: "0.1.0",
        description: "Owner pairing (seeds 000/001): pairing passwords, sessions, KTS, owner keys.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    staticCSP: true,
    // Its CSP upgrades requests to https, which breaks the UI of a development server on plain HTTP.
    transformStaticCSP: (csp) => (behindTls ? csp : csp.replace(/\s*upgrade-insecure-requests;?/, "")),
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
