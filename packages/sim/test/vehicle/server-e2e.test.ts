import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { centralVehicleConnector, SimRadio } from "@pairkit/ble";
import {
  ApiError,
  createMemoryLinkPair,
  HttpPairingApi,
  MemoryKeychain,
  MemoryPairingLog,
  nobleCrypto,
  OwnerErrorCode,
  OwnerFrameType,
  pairOwnerVehicle,
  runOwnerPairing,
  runStandardTransaction,
  SoftwareSecureElement,
  TransportError,
  toHex,
  utf8,
} from "@pairkit/core";
import { DEMO, loadConfig, type RunningServer, serve } from "@pairkit/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  advertiseVehicle,
  createCarmakerCa,
  issueVehicleCertificate,
  type VehicleEvent,
  type VehicleSessionOutcome,
  VehicleSimulator,
} from "../../src/vehicle/index.ts";
import { MqttVehicleProvisioning } from "../../src/vehicle/mqtt-provisioning.ts";
import { interceptedLinks } from "./fixture.ts";

const crypto = nobleCrypto;
const VEHICLE_ID = DEMO.vehicles.alices.id;
const DEVICE_INFO = { platform: "node", model: "e2e", appVersion: "1.0.0" } as const;

/** A free TCP port, so PUBLIC_URL (which names the KTS endpoint) can be the real address. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

let dataDir: string;
let server: RunningServer;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "pairkit-e2e-"));
  const port = await freePort();
  server = await serve(
    loadConfig({
      PAIRKIT_MODE: "development",
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      MQTT_PORT: "0",
      SMTP_SINK_PORT: "0",
      PGLITE_DIR: dataDir,
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

async function http<T = Record<string, unknown>>(
  path: string,
  options: { body?: unknown; token?: string; method?: string } = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.url}${path}`, {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers: {
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function tokenFor(userId: string): Promise<string> {
  const reply = await http<{ token: string }>("/dev/token", { body: { userId } });
  expect(reply.status).toBe(200);
  return reply.body.token;
}

interface PasswordReply {
  sessionId: string;
  pairingPassword: string;
  maxAttempts: number;
  scrypt: { N: number; r: number; p: number };
}

async function requestPassword(
  token: string,
  replaceExisting = false,
  vehicleId: string = VEHICLE_ID,
): Promise<PasswordReply> {
  const reply = await http<PasswordReply>("/pairing/password/request", {
    token,
    body: { vehicleId, deviceInfo: DEVICE_INFO, ...(replaceExisting ? { replaceExisting } : {}) },
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body;
}

async function sessionRow(sessionId: string) {
  return server.app.services.db
    .selectFrom("pairingSessions")
    .select(["status", "attemptCount", "maxAttempts"])
    .where("sessionId", "=", sessionId)
    .executeTakeFirstOrThrow();
}

/**
 * A vehicle simulator with its own identity key and certificate, registered with the server in
 * dev mode and on the vehicle link over MQTT.
 */
async function startMqttVehicle(vehicleId: string) {
  const ca = createCarmakerCa(crypto, { now: Date.now() });
  const identityKey = crypto.generateKeyPair();
  const certificate = issueVehicleCertificate(crypto, ca, {
    vehicleId,
    publicKey: identityKey.publicKey,
    now: Date.now(),
  });
  const kts = await http<{ publicKey: string }>("/kts/public-key");
  const ktsPublicKey = new Uint8Array(Buffer.from(kts.body.publicKey, "base64"));
  const credentials = await http<{ mqttUrl: string; password: string }>(
    `/dev/vehicles/${vehicleId}/credentials`,
    { body: { identityPublicKey: Buffer.from(identityKey.publicKey).toString("base64") } },
  );
  expect(credentials.status).toBe(200);
  let link: MqttVehicleProvisioning | undefined;
  const events: VehicleEvent[] = [];
  const vehicle = new VehicleSimulator({
    crypto,
    identity: { vehicleId, keyPair: identityKey, certificateChain: [certificate] },
    descriptor: { model: "e2e" },
    mailbox: {
      privateMailbox: { offset: 0, size: 256 },
      confidentialMailbox: { offset: 256, size: 128 },
      signalingBitmapOffset: 384,
      keyAttestationOffset: 400,
    },
    policyFlags: 0b011,
    ktsPublicKey,
    onEvent: (event) => {
      events.push(event);
      link?.onVehicleEvent(event);
    },
  });
  link = await MqttVehicleProvisioning.connect(vehicle, {
    url: credentials.body.mqttUrl,
    vehicleId,
    password: credentials.body.password,
  });
  return { ca, ktsPublicKey, events, vehicle, link };
}

describe("HttpPairingApi against the real server", () => {
  it("maps the server's error replies to ApiError and an unreachable server to TransportError", async () => {
    const token = await tokenFor("alice");
    const api = new HttpPairingApi({ baseUrl: server.url, token: () => token });
    const start = {
      sessionId: "00000000-0000-4000-8000-000000000000",
      devicePublicInfo: { deviceNonce: new Uint8Array(16), pointX: crypto.generateKeyPair().publicKey },
    };
    await expect(api.startSession(start)).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });
    const bogus = new HttpPairingApi({ baseUrl: server.url, token: async () => `${token}x` });
    const refused = await bogus.startSession(start).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: "UNAUTHENTICATED" });
    // An invalid point is refused by the server's schema / point check, never by the adapter.
    const badPoint = {
      ...start,
      devicePublicInfo: { ...start.devicePublicInfo, pointX: new Uint8Array(65) },
    };
    await expect(api.startSession(badPoint)).rejects.toMatchObject({ code: "BAD_REQUEST" });
    // The bearer token never goes to a KTS outside the trusted origins.
    await expect(
      api.requestKeyAttestation({
        ktsEndpointUrl: "https://attacker.example/kts",
        transactionId: start.sessionId,
        keyId: new Uint8Array(16),
        vehicleId: VEHICLE_ID,
        endpointPublicKey: start.devicePublicInfo.pointX,
      }),
    ).rejects.toMatchObject({ code: "KTS_UNTRUSTED" });
    const offline = new HttpPairingApi({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      token: () => token,
    });
    await expect(offline.startSession(start)).rejects.toBeInstanceOf(TransportError);
  });
});

describe("phone SDK ↔ server ↔ vehicle simulator (MQTT) over the simulated BLE radio", () => {
  it("pairs through the server, unlocks, counts a wrong password on both sides, and honours a revocation", async () => {
    const { ca, ktsPublicKey, events, vehicle, link } = await startMqttVehicle(VEHICLE_ID);

    const radio = new SimRadio({ connectionIntervalMs: 5 });
    const outcomes: VehicleSessionOutcome[] = [];
    const stopAdvertising = await advertiseVehicle(vehicle, radio.createPeripheral({ id: "car", mtu: 247 }), {
      onOutcome: (o) => outcomes.push(o),
    });
    const connector = centralVehicleConnector(radio.createCentral({ mtu: 185 }), { crypto });
    const unlock = async (keyId: Uint8Array, secureElement: SoftwareSecureElement) =>
      runStandardTransaction({
        link: await connector.connect({
          vehicleHint: vehicle.manufacturerData().data.subarray(2),
          timeoutMs: 5000,
        }),
        crypto,
        secureElement,
        keyId,
        trustAnchors: [ca.certificate],
      });

    try {
      const token = await tokenFor("alice");
      const api = new HttpPairingApi({ baseUrl: server.url, token: () => token });
      const phone = (password: PasswordReply, overridePassword?: string) => ({
        crypto,
        bootstrap: {
          sessionId: password.sessionId,
          password: overridePassword ?? password.pairingPassword,
          scrypt: password.scrypt,
          vehicleId: VEHICLE_ID,
        },
        deviceId: utf8("e2e-phone"),
        trustAnchors: [ca.certificate],
        secureElement: SoftwareSecureElement.inMemory(crypto),
        keychain: new MemoryKeychain(),
        log: new MemoryPairingLog(),
        api,
        ktsPublicKey,
        connector,
      });

      // 1. Password over HTTP; the verifier reached the vehicle over MQTT before the reply.
      const first = await requestPassword(token);
      expect(vehicle.verifiers.current()?.record.sessionId).toBe(first.sessionId);

      // 2. Pairing over the radio, with the server in the loop (session, confirm, KTS, report).
      const owner = phone(first);
      const paired = await pairOwnerVehicle(owner);
      if (!paired.ok) throw new Error(`pairing failed: ${paired.error.phase} ${paired.error.code}`);
      expect(paired.key.attested).toBe(true);
      await expect.poll(() => outcomes.map((o) => o.kind)).toEqual(["paired"]);
      expect(outcomes[0]).toMatchObject({ attested: true });
      const keys = await http<{ keys: { keyId: string; state: string; attested: boolean }[] }>("/keys", {
        token,
      });
      expect(keys.body.keys).toHaveLength(1);
      const serverKey = keys.body.keys[0]!;
      expect(serverKey).toMatchObject({ state: "active", attested: true });
      expect(await sessionRow(first.sessionId)).toMatchObject({ status: "paired", attemptCount: 1 });
      // The vehicle's `paired` event names the endpoint the phone reported (endpointIdHash = the
      // key id on phone and vehicle). The vehicle emits it at ENDPOINT_READY, usually before the
      // phone's /pairing/config/confirm lands, so the server's `matchesDevice` may still be null.
      await expect
        .poll(async () =>
          (
            await server.app.services.db
              .selectFrom("auditLog")
              .select("detail")
              .where("event", "=", "pairing.vehicle_confirmed")
              .execute()
          ).map((row) => (row.detail as { endpointIdHash?: string }).endpointIdHash),
        )
        .toEqual([toHex(paired.key.keyId)]);
      const [stored] = await server.app.services.db
        .selectFrom("digitalKeys")
        .select("keyMaterialHash")
        .where("keyId", "=", serverKey.keyId)
        .execute();
      expect(stored?.keyMaterialHash).toBe(toHex(paired.key.keyId));

      // 3. The standard transaction: the car opens.
      expect(await unlock(paired.key.keyId, owner.secureElement)).toMatchObject({ ok: true });

      // 4. A second device (replacing the first) types a wrong password: one attempt gone, at the
      // vehicle (authoritative) and in the server's session (from the vehicle's event).
      const second = await requestPassword(token, true);
      const wrong = second.pairingPassword === "00000000" ? "11111111" : "00000000";
      const failed = await pairOwnerVehicle(phone(second, wrong));
      expect(failed.ok).toBe(false);
      if (failed.ok) return;
      expect(failed.error.remainingAttempts).toBe(second.maxAttempts - 1);
      expect(vehicle.verifiers.current()?.remainingAttempts).toBe(second.maxAttempts - 1);
      await expect
        .poll(() => sessionRow(second.sessionId))
        .toMatchObject({ status: "open", attemptCount: 1 });
      await expect.poll(() => events.some((e) => e.type === "attempt-failed")).toBe(true);
      // The adapter carries the server's remainingAttempts: spend the rest of the session's budget.
      const attempt = {
        sessionId: second.sessionId,
        devicePublicInfo: { deviceNonce: new Uint8Array(16), pointX: crypto.generateKeyPair().publicKey },
      };
      // What is left is what the server counted (its own attempts and the vehicle's reports).
      const { attemptCount } = await sessionRow(second.sessionId);
      for (let left = second.maxAttempts - attemptCount; left > 0; left--)
        expect(await api.startSession(attempt)).toMatchObject({ transactionId: expect.any(String) });
      await expect(api.startSession(attempt)).rejects.toMatchObject({
        code: "ATTEMPTS_EXHAUSTED",
        remainingAttempts: 0,
      });

      // 5. The owner revokes the first key; it is `revoked` once the vehicle confirmed over MQTT.
      const revoke = await http(`/keys/${serverKey.keyId}/revoke`, { token, body: {} });
      expect(revoke.status).toBe(202);
      await expect
        .poll(async () => (await http<typeof keys.body>("/keys", { token })).body.keys[0]?.state)
        .toBe("revoked");
      expect(vehicle.endpoints.get(paired.key.keyId)).toBeUndefined();

      // 6. The revoked key no longer opens the car.
      const denied = await unlock(paired.key.keyId, owner.secureElement);
      expect(denied.ok).toBe(false);
      if (!denied.ok) expect(denied.error.wireCode).not.toBe(OwnerErrorCode.INTERNAL);
      await expect.poll(() => events.at(-1)?.type).toBe("denied");
    } finally {
      await stopAdvertising();
      await link.close();
      vehicle.destroy();
    }
  }, 60_000);
});

describe("a re-pairing that fails at finalization (real server, vehicle on MQTT)", () => {
  it("without OP_CONTROL_FLOW the new key exists nowhere and the old key stays active and opens the car", async () => {
    const vehicleId = DEMO.vehicles.alicesSecond.id;
    const { ca, ktsPublicKey, vehicle, link, events } = await startMqttVehicle(vehicleId);
    const token = await tokenFor("alice");
    const api = new HttpPairingApi({ baseUrl: server.url, token: () => token });
    const phone = (password: PasswordReply) => ({
      crypto,
      bootstrap: {
        sessionId: password.sessionId,
        password: password.pairingPassword,
        scrypt: password.scrypt,
        vehicleId,
      },
      deviceId: utf8("e2e-phone"),
      trustAnchors: [ca.certificate],
      secureElement: SoftwareSecureElement.inMemory(crypto),
      keychain: new MemoryKeychain(),
      log: new MemoryPairingLog(),
      api,
      ktsPublicKey,
    });
    const listKeys = async () =>
      (
        await http<{ keys: { keyId: string; vehicleId: string; state: string }[] }>("/keys", { token })
      ).body.keys
        .filter((k) => k.vehicleId === vehicleId && k.state !== "revoked")
        .map((k) => k.state);
    try {
      // The owner's current key.
      const owner = phone(await requestPassword(token, false, vehicleId));
      const [ownerLink, ownerVehicleLink] = createMemoryLinkPair();
      const [paired] = await Promise.all([
        runOwnerPairing({ ...owner, link: ownerLink }),
        vehicle.serve(ownerVehicleLink),
      ]);
      if (!paired.ok) throw new Error(`pairing failed: ${paired.error.phase} ${paired.error.code}`);
      expect(await listKeys()).toEqual(["active"]);

      // A replacing device: the vehicle stores its endpoint and sends OP_CONTROL_FLOW, which is lost.
      const replacing = phone(await requestPassword(token, true, vehicleId));
      const links = interceptedLinks((direction, message) =>
        direction === "toPhone" && message.type === OwnerFrameType.OP_CONTROL_FLOW ? undefined : message,
      );
      const [failed, outcome] = await Promise.all([
        runOwnerPairing({ ...replacing, link: links.phone }),
        vehicle.serve(links.vehicle),
      ]);
      expect(failed).toMatchObject({ ok: false, error: { phase: "finalize", code: "TIMEOUT" } });
      expect(outcome.kind).toBe("failed");
      // The phone erased its endpoint, the vehicle forgot it, the backend never recorded it.
      expect(await replacing.secureElement.listEndpoints()).toEqual([]);
      expect(events.filter((e) => e.type === "discarded")).toHaveLength(1);
      expect(vehicle.endpoints.list().map((e) => toHex(e.keyId))).toEqual([toHex(paired.key.keyId)]);
      expect(await listKeys()).toEqual(["active"]);
      const [stillOwner] = await server.app.services.db
        .selectFrom("digitalKeys")
        .select("keyMaterialHash")
        .where("vehicleId", "=", vehicleId)
        .where("state", "=", "active")
        .execute();
      expect(stillOwner?.keyMaterialHash).toBe(toHex(paired.key.keyId));
      // And the old key still opens the car.
      const [txnLink, txnVehicleLink] = createMemoryLinkPair();
      const [unlocked] = await Promise.all([
        runStandardTransaction({
          link: txnLink,
          crypto,
          secureElement: owner.secureElement,
          keyId: paired.key.keyId,
          trustAnchors: [ca.certificate],
        }),
        vehicle.serve(txnVehicleLink),
      ]);
      expect(unlocked).toMatchObject({ ok: true });
    } finally {
      await link.close();
      vehicle.destroy();
    }
  }, 60_000);

  it("a confirm whose reply is lost after the backend committed is repeated: the new key is the owner's everywhere", async () => {
    const vehicleId = DEMO.vehicles.alicesSecond.id;
    const { ca, ktsPublicKey, vehicle, link } = await startMqttVehicle(vehicleId);
    const token = await tokenFor("alice");
    // The first config/confirm reaches the server, which commits; its reply never comes back.
    let lostReplies = 0;
    const api = new HttpPairingApi({
      baseUrl: server.url,
      token: () => token,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (String(input).endsWith("/pairing/config/confirm") && lostReplies++ === 0)
          throw new TypeError("fetch failed: the connection was reset");
        return response;
      },
    });
    const pairOnce = async (replaceExisting: boolean) => {
      const password = await requestPassword(token, replaceExisting, vehicleId);
      const secureElement = SoftwareSecureElement.inMemory(crypto);
      const [phoneLink, vehicleLink] = createMemoryLinkPair();
      const [paired] = await Promise.all([
        runOwnerPairing({
          crypto,
          bootstrap: {
            sessionId: password.sessionId,
            password: password.pairingPassword,
            scrypt: password.scrypt,
            vehicleId,
          },
          deviceId: utf8("e2e-phone"),
          trustAnchors: [ca.certificate],
          secureElement,
          keychain: new MemoryKeychain(),
          log: new MemoryPairingLog(),
          api,
          ktsPublicKey,
          link: phoneLink,
        }),
        vehicle.serve(vehicleLink),
      ]);
      return { paired, secureElement };
    };
    try {
      const before = await http<{ keys: { keyId: string; vehicleId: string; state: string }[] }>("/keys", {
        token,
      });
      const previous = before.body.keys.filter((k) => k.vehicleId === vehicleId && k.state === "active");
      const { paired, secureElement } = await pairOnce(previous.length > 0);
      if (!paired.ok) throw new Error(`pairing failed: ${paired.error.phase} ${paired.error.code}`);
      expect(lostReplies).toBe(2);
      // The phone kept its key, the vehicle holds it, and the backend's one active owner key is it.
      expect((await secureElement.listEndpoints()).map((e) => toHex(e.keyId))).toEqual([
        toHex(paired.key.keyId),
      ]);
      expect(vehicle.endpoints.list().map((e) => toHex(e.keyId))).toContain(toHex(paired.key.keyId));
      const active = await server.app.services.db
        .selectFrom("digitalKeys")
        .select("keyMaterialHash")
        .where("vehicleId", "=", vehicleId)
        .where("state", "=", "active")
        .execute();
      expect(active).toEqual([{ keyMaterialHash: toHex(paired.key.keyId) }]);
    } finally {
      await link.close();
      vehicle.destroy();
    }
  }, 60_000);
});
