import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import { type BuildOptions, buildServer } from "../../src/app.ts";
import { type DatabaseConfig, type Env, loadConfig } from "../../src/config.ts";
import type { ProvisionMessage, RevokeMessage } from "../../src/vehicle-link/messages.ts";
import { VehicleLinkClient } from "../../src/vehicle-link/vehicle-link-client.ts";
import { AUDIENCE, ISSUER } from "./identity-provider.ts";

/**
 * A full server for integration tests: the given database, the embedded broker on a free port,
 * scrypt at N=1024 (the protocol is the same; only the cost differs), logs discarded.
 */
export async function startTestServer(database: DatabaseConfig, env: Env = {}, options: BuildOptions = {}) {
  const config = {
    ...loadConfig({
      MQTT_PORT: "0",
      SMTP_SINK_PORT: "0",
      // Tests run maintenance themselves (runMaintenance); the timer must not race their snapshots.
      MAINTENANCE_INTERVAL_SECONDS: "3600",
      SCRYPT_N: "1024",
      LOG_LEVEL: "silent",
      VEHICLE_ACK_TIMEOUT_MS: "5000",
      ...env,
    }),
    database,
  };
  return buildServer(config, options);
}

export async function tokenFor(app: FastifyInstance, userId: string): Promise<string> {
  const response = await app.inject({ method: "POST", url: "/dev/token", payload: { userId } });
  expect(response.statusCode).toBe(200);
  return response.json<{ token: string }>().token;
}

/** A vehicle on the link that records what it is sent and acks everything. */
export async function connectVehicle(app: FastifyInstance, vehicleId: string) {
  const response = await app.inject({
    method: "POST",
    url: `/dev/vehicles/${vehicleId}/credentials`,
    payload: {},
  });
  expect(response.statusCode).toBe(200);
  const { mqttUrl, password } = response.json<{ mqttUrl: string; password: string }>();
  const provisions: ProvisionMessage[] = [];
  const revocations: RevokeMessage[] = [];
  const client = await VehicleLinkClient.connect(
    { url: mqttUrl, vehicleId, password },
    { onProvision: (m) => void provisions.push(m), onRevoke: (m) => void revocations.push(m) },
  );
  return { client, provisions, revocations };
}

export const DEVICE_INFO = { platform: "android", model: "Pixel 9", appVersion: "1.0.0" } as const;

/** The environment of a production server that trusts `jwksUrl`'s keys; `env` adds or overrides. */
export function productionEnv(jwksUrl: string, env: Env = {}): Env {
  return {
    PAIRKIT_MODE: "production",
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    JWT_JWKS_URL: jwksUrl,
    // The test identity provider serves its keys on loopback without TLS.
    JWT_JWKS_ALLOW_HTTP: "true",
    KTS_PRIVATE_KEY: "11".repeat(32),
    SMTP_URL: "smtp://127.0.0.1:9",
    PORTAL_LINK_BASE: "https://cars.example.test/pair",
    ...env,
  };
}
