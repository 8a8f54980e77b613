import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { DEMO } from "../src/db/demo-data.ts";
import { type RunningServer, serve } from "../src/serve.ts";
import { VehicleLinkClient } from "../src/vehicle-link/vehicle-link-client.ts";
import { DEVICE_INFO } from "./support/server.ts";

describe("the server on a real port (what the SDK adapter and the simulator see)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    const config = loadConfig({
      PORT: "0",
      MQTT_PORT: "0",
      SMTP_SINK_PORT: "0",
      PGLITE_DIR: "memory",
      SCRYPT_N: "1024",
      LOG_LEVEL: "silent",
    });
    server = await serve(config);
  });
  afterAll(() => server?.close());

  const json = async (path: string, body?: unknown, token?: string) => {
    const response = await fetch(`${server.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, unknown>,
    };
  };

  it("issues a password over HTTP to a simulated vehicle on the embedded broker", async () => {
    expect((await json("/healthz")).body).toEqual({ status: "ok" });
    const vehicleId = DEMO.vehicles.alices.id;
    const credentials = (await json(`/dev/vehicles/${vehicleId}/credentials`, {})).body as {
      mqttUrl: string;
      password: string;
    };
    expect(credentials.mqttUrl).toBe(server.mqttUrl);
    const vehicle = await VehicleLinkClient.connect(
      { url: credentials.mqttUrl, vehicleId, password: credentials.password },
      { onProvision: () => {}, onRevoke: () => {} },
    );
    try {
      const { token } = (await json("/dev/token", { userId: "alice" })).body as { token: string };
      const reply = await json("/pairing/password/request", {
        vehicleId,
        userToken: token,
        deviceInfo: DEVICE_INFO,
      });
      expect(reply.status).toBe(200);
      expect(reply.body.pairingPassword).toMatch(/^\d{8}$/);
      const refused = await json("/pairing/password/request", { vehicleId, deviceInfo: DEVICE_INFO });
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ code: "UNAUTHENTICATED" });
    } finally {
      await vehicle.close();
    }
  });
});

describe("log redaction", () => {
  it("replaces passwords, PINs, tokens, keys and the authorization header", () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    const log = createLogger(loadConfig({ LOG_LEVEL: "trace" }), stream);
    const secrets = {
      password: "S3cret-pw",
      pairingPassword: "48151623",
      pin: "2468",
      token: "tok.en.value",
      userToken: "user.tok.en",
      w0: "w0-bytes",
      privateKey: "pk-bytes",
    };
    log.info({ detail: secrets }, "nested");
    log.info(secrets, "top level");
    log.info({ req: { headers: { authorization: "Bearer abc.def.ghi" } } }, "header");
    const text = lines.join("");
    for (const value of [...Object.values(secrets), "abc.def.ghi"]) expect(text).not.toContain(value);
    expect(text).toContain("[redacted]");
  });
});
