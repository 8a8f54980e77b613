import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { centralVehicleConnector, SimRadio } from "@pairkit/ble";
import {
  CertificateError,
  decodeBase64,
  encodeBase64,
  HttpPairingApi,
  MemoryKeychain,
  MemoryPairingLog,
  nobleCrypto,
  pairOwnerVehicle,
  runStandardTransaction,
  SoftwareSecureElement,
  utf8,
  verifyVehicleCertificateChain,
} from "@pairkit/core";
import { DEMO, loadConfig, type RunningServer, serve } from "@pairkit/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DemoFleet, JsonFileFleetState, startDemoFleet } from "../../src/fleet/index.ts";

const crypto = nobleCrypto;
let dataDir: string;
let server: RunningServer;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "pairkit-fleet-"));
  server = await serve(
    loadConfig({
      PAIRKIT_MODE: "development",
      PORT: "0",
      MQTT_PORT: "0",
      SMTP_SINK_PORT: "0",
      PGLITE_DIR: join(dataDir, "db"),
      SCRYPT_N: "1024",
      LOG_LEVEL: "silent",
      MAINTENANCE_INTERVAL_SECONDS: "3600",
    }),
  );
}, 60_000);
afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function post<T>(path: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  expect(response.status, path).toBe(200);
  return (await response.json()) as T;
}

describe("the demo fleet", () => {
  it("runs every demo vehicle on MQTT and the radio, and a restarted fleet still opens for a paired key", async () => {
    const radio = new SimRadio({ connectionIntervalMs: 2 });
    const state = new JsonFileFleetState(join(dataDir, "fleet.json"));
    const start = () =>
      startDemoFleet({
        serverUrl: server.url,
        crypto,
        state,
        peripheral: async (id) => radio.createPeripheral({ id, mtu: 247 }),
      });
    let fleet: DemoFleet = await start();
    const ids = Object.values(DEMO.vehicles).map((v) => v.id);
    expect(fleet.vehicles.map((v) => v.vehicleId)).toEqual(ids);
    expect((await stat(join(dataDir, "fleet.json"))).mode & 0o777).toBe(0o600);

    const vehicleId = DEMO.vehicles.alicesSecond.id;
    const { token } = await post<{ token: string }>("/dev/token", { userId: "alice" });
    const password = await post<{
      sessionId: string;
      pairingPassword: string;
      scrypt: { N: number; r: number; p: number };
    }>(
      "/pairing/password/request",
      { vehicleId, deviceInfo: { platform: "node", model: "fleet-test", appVersion: "1" } },
      token,
    );
    const ktsPublicKey = decodeBase64(
      ((await (await fetch(`${server.url}/kts/public-key`)).json()) as { publicKey: string }).publicKey,
      "KTS key",
    );
    const connector = centralVehicleConnector(radio.createCentral({ mtu: 185 }), { crypto });
    const secureElement = SoftwareSecureElement.inMemory(crypto);
    const paired = await pairOwnerVehicle({
      crypto,
      bootstrap: {
        sessionId: password.sessionId,
        password: password.pairingPassword,
        scrypt: password.scrypt,
        vehicleId,
      },
      deviceId: utf8("fleet-test-phone"),
      trustAnchors: fleet.trustAnchors,
      secureElement,
      keychain: new MemoryKeychain(),
      log: new MemoryPairingLog(),
      api: new HttpPairingApi({ baseUrl: server.url, token: () => token }),
      ktsPublicKey,
      connector,
    });
    if (!paired.ok) throw new Error(`pairing failed: ${paired.error.phase} ${paired.error.code}`);

    const anchors = fleet.trustAnchors;
    await fleet.close();
    fleet = await start();
    try {
      expect(fleet.trustAnchors).toEqual(anchors);
      const vehicle = fleet.vehicles.find((v) => v.vehicleId === vehicleId)!;
      expect(vehicle.simulator.endpoints.list().map((e) => e.keyId)).toEqual([paired.key.keyId]);
      // docs/protocol.md §3.1: the vehicle id on the air and in the certificate's CN is the
      // backend's id (VH-DEMO-3), not the VIN.
      expect(paired.key.vehicleId).toBe(vehicleId);
      const leaf = {
        chain: vehicle.simulator.identity.certificateChain,
        trustAnchors: fleet.trustAnchors,
        now: Date.now(),
      };
      expect(verifyVehicleCertificateChain(crypto, { ...leaf, vehicleId })).toEqual(
        vehicle.simulator.identity.keyPair.publicKey,
      );
      expect(() =>
        verifyVehicleCertificateChain(crypto, { ...leaf, vehicleId: DEMO.vehicles.alicesSecond.vin }),
      ).toThrow(CertificateError);
      const unlocked = await runStandardTransaction({
        link: await connector.connect({
          vehicleHint: vehicle.simulator.manufacturerData().data.subarray(2),
          timeoutMs: 5000,
        }),
        crypto,
        secureElement,
        keyId: paired.key.keyId,
        trustAnchors: fleet.trustAnchors,
      });
      expect(unlocked).toMatchObject({ ok: true });
    } finally {
      await fleet.close();
    }
  });

  it("runs a vehicle of your own, registered with POST /admin/vehicles, and the backend provisions it", async () => {
    const { token: admin } = await post<{ token: string }>("/dev/token", { userId: "erin" });
    const asAdmin = async (path: string, body: unknown) => {
      const response = await fetch(`${server.url}${path}`, {
        method: path.endsWith("/subscription") ? "PUT" : "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
        body: JSON.stringify(body),
      });
      expect(response.status, path).toBeLessThan(300);
    };
    const vehicleId = "MY-CAR-1";
    await asAdmin("/admin/vehicles", {
      id: vehicleId,
      vin: "WPKOWN00000000001",
      model: "My Car",
      // The fleet replaces it with the simulator's own key when it fetches its credentials.
      identityPublicKey: encodeBase64(crypto.generateKeyPair().publicKey),
      policyFlags: 0b011,
    });
    await asAdmin(`/admin/vehicles/${vehicleId}/owners`, { userId: "alice", pin: "1357" });
    await asAdmin(`/admin/vehicles/${vehicleId}/subscription`, {
      userId: "alice",
      validUntil: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const radio = new SimRadio({ connectionIntervalMs: 2 });
    const fleet = await startDemoFleet({
      serverUrl: server.url,
      crypto,
      peripheral: async (id) => radio.createPeripheral({ id }),
      vehicleIds: [vehicleId],
      models: { [vehicleId]: "My Car" },
    });
    try {
      expect(fleet.vehicles.map((v) => [v.vehicleId, v.model])).toEqual([[vehicleId, "My Car"]]);
      const { token } = await post<{ token: string }>("/dev/token", { userId: "alice" });
      const { sessionId } = await post<{ sessionId: string }>(
        "/pairing/password/request",
        { vehicleId, deviceInfo: { platform: "node", model: "fleet-test", appVersion: "1" } },
        token,
      );
      expect(fleet.vehicles[0]!.simulator.verifiers.current()?.record.sessionId).toBe(sessionId);
    } finally {
      await fleet.close();
    }
  });

  it("refuses a corrupt state file, an unknown vehicle and an unreachable backend with typed errors", async () => {
    const radio = new SimRadio({ connectionIntervalMs: 2 });
    const peripheral = async (id: string) => radio.createPeripheral({ id });
    const corruptPath = join(dataDir, "corrupt.json");
    await writeFile(
      corruptPath,
      '{"version":1,"ca":{"name":"x","certificate":"zz","privateKey":"00"},"vehicles":{}}',
    );
    await expect(
      startDemoFleet({
        serverUrl: server.url,
        crypto,
        peripheral,
        state: new JsonFileFleetState(corruptPath),
      }),
    ).rejects.toMatchObject({ code: "FLEET_STATE_CORRUPT" });
    await expect(
      startDemoFleet({ serverUrl: server.url, crypto, peripheral, vehicleIds: ["VH-NOPE"] }),
    ).rejects.toMatchObject({ code: "FLEET_UNKNOWN_VEHICLE" });
    await expect(
      startDemoFleet({ serverUrl: "http://127.0.0.1:1", crypto, peripheral }),
    ).rejects.toMatchObject({ code: "FLEET_BACKEND_UNREACHABLE" });
  });
});
