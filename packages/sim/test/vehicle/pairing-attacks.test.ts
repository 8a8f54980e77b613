import {
  ApiError,
  createMemoryLinkPair,
  KeychainItem,
  OwnerFrameType,
  type OwnerPairingResult,
  type PairingApi,
  runOwnerPairing,
  runStandardTransaction,
  type SecureElement,
  SecureElementError,
  SoftwareSecureElement,
} from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { createCarmakerCa, issueVehicleCertificate, VehicleSimulator } from "../../src/vehicle/index.ts";
import { crypto, type Fixture, interceptedLinks, makeFixture, type Tamper } from "./fixture.ts";

async function pair(f: Fixture, overrides: { password?: string; tamper?: Tamper } = {}) {
  const links = overrides.tamper ? interceptedLinks(overrides.tamper) : pairOf();
  const bootstrap = { ...f.phone.bootstrap, ...(overrides.password ? { password: overrides.password } : {}) };
  const [phone, vehicle] = await Promise.all([
    runOwnerPairing({ ...f.phone, bootstrap, link: links.phone }),
    f.vehicle.serve(links.vehicle),
  ]);
  return { phone, vehicle };
}

function pairOf() {
  const [phone, vehicle] = createMemoryLinkPair();
  return { phone, vehicle };
}

function failure(result: OwnerPairingResult) {
  if (result.ok) throw new Error("expected pairing to fail");
  return result.error;
}

function flipByte(payload: Uint8Array, index: number): Uint8Array {
  const out = payload.slice();
  out[index] = out[index]! ^ 0x01;
  return out;
}

async function expectNothingStored(f: Fixture) {
  expect(await f.phone.secureElement.listEndpoints()).toHaveLength(0);
  expect(f.vehicle.endpoints.list()).toHaveLength(0);
}

describe("owner pairing under attack: every failure is closed, on both sides", () => {
  it("wrong password: each try costs one attempt, then the verifier locks", async () => {
    const f = await makeFixture();
    for (const left of [2, 1, 0]) {
      const { phone, vehicle } = await pair(f, { password: "11112222" });
      expect(failure(phone)).toMatchObject({
        phase: "spake2",
        code: "CONFIRMATION_FAILED",
        remainingAttempts: left,
        retryAllowed: left > 0,
      });
      expect(vehicle).toMatchObject({ kind: "failed", error: { code: "CONFIRMATION_FAILED" } });
      expect(f.events.at(left === 0 ? -2 : -1)).toMatchObject({
        type: "attempt-failed",
        remainingAttempts: left,
      });
    }
    expect(f.events.at(-1)).toMatchObject({ type: "locked", sessionId: f.record.sessionId });
    // Locked: even the right password is refused before any SPAKE2+ work.
    const { phone } = await pair(f);
    expect(failure(phone)).toMatchObject({
      code: "ATTEMPTS_EXHAUSTED",
      retryAllowed: false,
      remainingAttempts: 0,
      fromVehicle: true,
    });
    await expectNothingStored(f);
  });

  it("expired verifier: refused at SELECT, no attempt spent", async () => {
    const f = await makeFixture();
    await f.vehicle.provision({ ...f.record, expiresAt: Date.now() - 1 });
    const { phone, vehicle } = await pair(f);
    expect(failure(phone)).toMatchObject({
      code: "VERIFIER_EXPIRED",
      retryAllowed: false,
      fromVehicle: true,
    });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "VERIFIER_EXPIRED" } });
    expect(f.vehicle.verifiers.current()!.remainingAttempts).toBe(3);
    expect(f.events).toHaveLength(0);
  });

  it("a vehicle with all 16 key slots taken refuses at SELECT, no attempt spent", async () => {
    const f = await makeFixture();
    for (let i = 0; i < 16; i++) {
      const { publicKey } = crypto.generateKeyPair();
      f.vehicle.endpoints.add({
        keyId: Uint8Array.of(i, ...new Uint8Array(15)),
        publicKey,
        sessionId: "old",
        policyFlags: 0,
        pairedAt: 0,
      });
    }
    const { phone } = await pair(f);
    expect(failure(phone)).toMatchObject({ code: "KEY_SLOTS_FULL", fromVehicle: true });
    expect(f.vehicle.verifiers.current()!.remainingAttempts).toBe(3);
  });

  it("tampered SPAKE2 share X (off the curve): the vehicle rejects the point, the attempt is spent", async () => {
    const f = await makeFixture();
    const { phone, vehicle } = await pair(f, {
      tamper: (_dir, m) =>
        m.type === OwnerFrameType.SPAKE2_RESPONSE ? { ...m, payload: flipByte(m.payload, 10) } : m,
    });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "INVALID_POINT" } });
    expect(failure(phone)).toMatchObject({ phase: "spake2", code: "INVALID_POINT", fromVehicle: true });
    expect(f.events).toMatchObject([{ type: "attempt-failed", remainingAttempts: 2 }]);
  });

  it("a SPAKE2_RESPONSE of the wrong length (80 bytes) is malformed and costs no attempt (§3.4)", async () => {
    const f = await makeFixture();
    const { phone, vehicle } = await pair(f, {
      tamper: (_dir, m) =>
        m.type === OwnerFrameType.SPAKE2_RESPONSE ? { ...m, payload: m.payload.subarray(0, 80) } : m,
    });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "MALFORMED_MESSAGE" } });
    expect(failure(phone)).toMatchObject({ phase: "spake2", code: "MALFORMED_MESSAGE", fromVehicle: true });
    expect(f.vehicle.verifiers.current()!.remainingAttempts).toBe(3);
    expect(f.events).toEqual([]);
  });

  it("substituted SPAKE2 share Y (a valid point): the phone's confirmV check fails", async () => {
    const f = await makeFixture();
    const { phone, vehicle } = await pair(f, {
      tamper: (_dir, m) => {
        if (m.type !== OwnerFrameType.SPAKE2_VERIFY) return m;
        const payload = m.payload.slice();
        payload.set(crypto.generateKeyPair().publicKey, 0);
        return { ...m, payload };
      },
    });
    expect(failure(phone)).toMatchObject({
      phase: "spake2",
      code: "CONFIRMATION_FAILED",
      fromVehicle: false,
    });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "CONFIRMATION_FAILED", fromPeer: true } });
    await expectNothingStored(f);
  });

  it("bad confirmation from the phone: the vehicle refuses and says so", async () => {
    const f = await makeFixture();
    const { phone, vehicle } = await pair(f, {
      tamper: (_dir, m) =>
        m.type === OwnerFrameType.SPAKE2_VERIFY_RESPONSE ? { ...m, payload: flipByte(m.payload, 0) } : m,
    });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "CONFIRMATION_FAILED" } });
    expect(failure(phone)).toMatchObject({
      code: "CONFIRMATION_FAILED",
      fromVehicle: true,
      remainingAttempts: 2,
    });
    await expectNothingStored(f);
  });

  it("replayed frames: a duplicated message is unexpected; a recorded session replayed cannot confirm", async () => {
    const f = await makeFixture();
    const { vehicle } = await pair(f, {
      tamper: (_dir, m) =>
        m.type === OwnerFrameType.SPAKE2_VERIFY_RESPONSE
          ? { type: OwnerFrameType.SPAKE2_RESPONSE, payload: new Uint8Array(81) }
          : m,
    });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "UNEXPECTED_MESSAGE" } });

    // Record a successful pairing, then replay the phone's messages into a fresh session.
    await f.vehicle.provision(f.record);
    const recorded: Array<{ type: number; payload: Uint8Array }> = [];
    const original = await pair(f, {
      tamper: (dir, m) => {
        if (dir === "toVehicle") recorded.push(m);
        return m;
      },
    });
    expect(original.phone.ok).toBe(true);
    await f.vehicle.provision({ ...f.record, sessionId: "replayed-session" });
    const [attacker, vehicleLink] = createMemoryLinkPair();
    const served = f.vehicle.serve(vehicleLink);
    for (const m of recorded.slice(0, 3)) await attacker.send(m);
    expect(await served).toMatchObject({ kind: "failed", error: { code: "CONFIRMATION_FAILED" } });
    expect(f.events.at(-1)).toMatchObject({ type: "attempt-failed", sessionId: "replayed-session" });
    expect(f.vehicle.endpoints.list()).toHaveLength(1);
  });

  it("tampered DEVICE_CONFIG: policyDigest fails before anything is stored", async () => {
    const f = await makeFixture();
    const { phone, vehicle } = await pair(f, {
      tamper: (_dir, m) =>
        m.type === OwnerFrameType.DEVICE_CONFIG ? { ...m, payload: flipByte(m.payload, 12) } : m,
    });
    expect(failure(phone)).toMatchObject({
      phase: "config",
      code: "POLICY_DIGEST_MISMATCH",
      retryAllowed: false,
    });
    expect(vehicle).toMatchObject({
      kind: "failed",
      error: { code: "POLICY_DIGEST_MISMATCH", fromPeer: true },
    });
    expect(await f.phone.keychain.get(KeychainItem.vehicleDescriptorDigest)).toBeUndefined();
    expect(f.events).toMatchObject([{ type: "attempt-failed" }]);
    await expectNothingStored(f);
  });

  it.each([
    { type: OwnerFrameType.DEVICE_CONFIG_ACK, code: "CONFIG_DIGEST_MISMATCH" },
    { type: OwnerFrameType.ENDPOINT_READY, code: "RECEIPT_INVALID" },
  ])("a vehicle that rejects $code allows a retry while attempts remain", async ({ type, code }) => {
    const f = await makeFixture();
    const { phone, vehicle } = await pair(f, {
      tamper: (_dir, m) => (m.type === type ? { ...m, payload: flipByte(m.payload, 3) } : m),
    });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code, retryAllowed: true } });
    expect(failure(phone)).toMatchObject({
      code,
      fromVehicle: true,
      retryAllowed: true,
      remainingAttempts: 2,
    });
    await expectNothingStored(f);
    expect((await pair(f)).phone.ok).toBe(true);
  });

  it("tampered policy flags in SPAKE2_VERIFY are caught by the policyDigest binding", async () => {
    const f = await makeFixture();
    const { phone } = await pair(f, {
      tamper: (_dir, m) =>
        m.type === OwnerFrameType.SPAKE2_VERIFY ? { ...m, payload: flipByte(m.payload, 97) } : m,
    });
    expect(failure(phone)).toMatchObject({ phase: "config", code: "POLICY_DIGEST_MISMATCH" });
    await expectNothingStored(f);
  });

  it("a certificate chain that does not lead to the carmaker CA is refused", async () => {
    const f = await makeFixture();
    const rogue = createCarmakerCa(crypto, { name: "pairkit Carmaker Root CA" });
    const identity = f.vehicle.identity;
    const forged = issueVehicleCertificate(crypto, rogue, {
      vehicleId: identity.vehicleId,
      publicKey: identity.keyPair.publicKey,
    });
    const impostor = new VehicleSimulator({
      ...f.vehicle.options,
      identity: { ...identity, certificateChain: [forged] },
    });
    await impostor.provision(f.record);
    const links = pairOf();
    const [phone, vehicle] = await Promise.all([
      runOwnerPairing({ ...f.phone, link: links.phone }),
      impostor.serve(links.vehicle),
    ]);
    expect(failure(phone)).toMatchObject({
      phase: "config",
      code: "CERTIFICATE_INVALID",
      retryAllowed: false,
    });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "CERTIFICATE_INVALID", fromPeer: true } });
    expect(await f.phone.secureElement.listEndpoints()).toHaveLength(0);
  });

  it("a genuine certificate for another vehicle is refused", async () => {
    const f = await makeFixture();
    const identity = f.vehicle.identity;
    const otherCa = createCarmakerCa(crypto);
    const other = issueVehicleCertificate(crypto, otherCa, {
      vehicleId: "OTHER-VIN",
      publicKey: identity.keyPair.publicKey,
    });
    const impostor = new VehicleSimulator({
      ...f.vehicle.options,
      identity: { ...identity, certificateChain: [other] },
    });
    await impostor.provision(f.record);
    const links = pairOf();
    const [phone] = await Promise.all([
      runOwnerPairing({
        ...f.phone,
        trustAnchors: [...f.trustAnchors, otherCa.certificate],
        link: links.phone,
      }),
      impostor.serve(links.vehicle),
    ]);
    expect(failure(phone)).toMatchObject({ code: "CERTIFICATE_INVALID" });
  });

  it("disconnect mid-config: both sides fail, the attempt is spent, nothing is half-stored", async () => {
    const f2 = await makeFixture();
    let phoneSide: { close(): Promise<void> } | undefined;
    const links = interceptedLinks((_dir, m) => {
      if (m.type === OwnerFrameType.DEVICE_CONFIG) {
        void phoneSide?.close();
        return undefined;
      }
      return m;
    });
    phoneSide = links.phone;
    const [p, v] = await Promise.all([
      runOwnerPairing({ ...f2.phone, link: links.phone }),
      f2.vehicle.serve(links.vehicle),
    ]);
    expect(failure(p)).toMatchObject({ phase: "config", code: "DISCONNECTED", remainingAttempts: 2 });
    expect(v).toMatchObject({ kind: "failed", error: { code: "DISCONNECTED" } });
    expect(f2.events).toMatchObject([{ type: "attempt-failed", remainingAttempts: 2, code: "DISCONNECTED" }]);
    await expectNothingStored(f2);
  });

  it("OP_CONTROL_FLOW p2 = 0x91: the phone erases its endpoint, reports ENDPOINT_FAILED and sends no ERROR back", async () => {
    const f = await makeFixture();
    const toVehicle: number[] = [];
    const { phone } = await pair(f, {
      tamper: (direction, m) => {
        if (direction === "toVehicle") toVehicle.push(m.type);
        return m.type === OwnerFrameType.OP_CONTROL_FLOW ? { ...m, payload: Uint8Array.of(0x01, 0x91) } : m;
      },
    });
    expect(failure(phone)).toMatchObject({
      phase: "finalize",
      code: "ENDPOINT_FAILED",
      fromVehicle: true,
      retryAllowed: false,
    });
    expect(await f.phone.secureElement.listEndpoints()).toHaveLength(0);
    expect(toVehicle).not.toContain(OwnerFrameType.ERROR);
  });

  it("a secure element failure ends the pairing in the endpoint phase, nothing stored", async () => {
    const f = await makeFixture();
    const se = f.phone.secureElement;
    const failing: SecureElement = {
      createEndpoint: async () => {
        throw new SecureElementError("SE_BUSY", "secure element busy");
      },
      setupEndpoint: (keyId, setup) => se.setupEndpoint(keyId, setup),
      sign: (keyId, message) => se.sign(keyId, message),
      receiptMac: (keyId, data) => se.receiptMac(keyId, data),
      storeEndpointCertificate: (keyId, c) => se.storeEndpointCertificate(keyId, c),
      storeKeyAttestation: (keyId, a) => se.storeKeyAttestation(keyId, a),
      getEndpoint: (keyId) => se.getEndpoint(keyId),
      listEndpoints: () => se.listEndpoints(),
      deleteEndpoint: (keyId) => se.deleteEndpoint(keyId),
    };
    const links = pairOf();
    const [phone, vehicle] = await Promise.all([
      runOwnerPairing({ ...f.phone, secureElement: failing, link: links.phone }),
      f.vehicle.serve(links.vehicle),
    ]);
    expect(failure(phone)).toMatchObject({
      phase: "endpoint",
      code: "SE_BUSY",
      remainingAttempts: 2,
    });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "ENDPOINT_FAILED", fromPeer: true } });
    expect(f.events).toMatchObject([{ type: "attempt-failed", remainingAttempts: 2 }]);
    await expectNothingStored(f);
  });

  it("a backend that refuses the attempt stops the handshake before it completes", async () => {
    const f = await makeFixture();
    const api: PairingApi = {
      startSession: async () => {
        throw new ApiError("PAIRING_PASSWORD_EXPIRED", "Pairing password expired", { remainingAttempts: 1 });
      },
      confirmConfig: (r) => f.api.confirmConfig(r),
      requestKeyAttestation: (r) => f.api.requestKeyAttestation(r),
      reportKtsResponse: (r) => f.api.reportKtsResponse(r),
    };
    const links = pairOf();
    const [phone, vehicle] = await Promise.all([
      runOwnerPairing({ ...f.phone, api, link: links.phone }),
      f.vehicle.serve(links.vehicle),
    ]);
    expect(failure(phone)).toMatchObject({
      phase: "spake2",
      code: "PAIRING_PASSWORD_EXPIRED",
      remainingAttempts: 1,
    });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "ABORTED", fromPeer: true } });
    await expectNothingStored(f);
  });

  it("the app aborting mid-pairing tells the vehicle and stores nothing", async () => {
    const f = await makeFixture();
    const controller = new AbortController();
    const links = interceptedLinks((_dir, m) => {
      if (m.type === OwnerFrameType.DEVICE_CONFIG) controller.abort();
      return m;
    });
    const [phone, vehicle] = await Promise.all([
      runOwnerPairing({ ...f.phone, signal: controller.signal, link: links.phone }),
      f.vehicle.serve(links.vehicle),
    ]);
    expect(failure(phone)).toMatchObject({ code: "ABORTED" });
    expect(vehicle).toMatchObject({ kind: "failed" });
    await expectNothingStored(f);
  });

  it("a second phone while one is pairing is turned away without spending an attempt", async () => {
    const f = await makeFixture();
    const [first, firstVehicle] = createMemoryLinkPair();
    const firstServed = f.vehicle.serve(firstVehicle);
    await first.send({
      type: OwnerFrameType.SELECT,
      payload: Uint8Array.of(0x01, 0x02, 0x01, 0xaa),
    });
    await first.receive({ timeoutMs: 1000 }); // SELECT response: the vehicle is now busy with it
    const { phone, vehicle } = await pair(f);
    expect(failure(phone)).toMatchObject({ code: "BUSY", retryAllowed: true, fromVehicle: true });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "BUSY" } });
    await first.close();
    await firstServed;
    expect(f.vehicle.verifiers.current()!.remainingAttempts).toBe(3);
    const retry = await pair(f);
    expect(retry.phone.ok).toBe(true);
  });
});

describe("standard transaction under attack", () => {
  async function paired() {
    const f = await makeFixture();
    const { phone } = await pair(f);
    if (!phone.ok) throw new Error(phone.error.code);
    return { f, key: phone.key };
  }

  async function transact(
    f: Fixture,
    keyId: Uint8Array,
    secureElement = f.phone.secureElement,
    tamper?: Tamper,
  ) {
    const links = tamper ? interceptedLinks(tamper) : pairOf();
    const [phone, vehicle] = await Promise.all([
      runStandardTransaction({
        link: links.phone,
        crypto,
        secureElement,
        keyId,
        trustAnchors: f.trustAnchors,
      }),
      f.vehicle.serve(links.vehicle),
    ]);
    return { phone, vehicle };
  }

  it("a revoked key is denied on both sides", async () => {
    const { f, key } = await paired();
    expect(await f.vehicle.revoke(key.keyId)).toBe(true);
    const { phone, vehicle } = await transact(f, key.keyId);
    expect(phone).toMatchObject({ ok: false, error: { code: "UNKNOWN_ENDPOINT", fromPeer: true } });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "UNKNOWN_ENDPOINT" } });
    expect(f.events.map((e) => e.type)).toContain("revoked");
  });

  it("a key the vehicle never paired is denied", async () => {
    const { f } = await paired();
    const stranger = SoftwareSecureElement.inMemory(crypto);
    const { keyId } = await stranger.createEndpoint();
    // Copy the real endpoint's public setup so the phone side gets as far as signing.
    const real = (await f.phone.secureElement.listEndpoints())[0]!;
    await stranger.setupEndpoint(keyId, {
      vehicleId: real.vehicleId!,
      kenc: new Uint8Array(32),
      kmac: new Uint8Array(32),
      krmac: new Uint8Array(32),
      mailbox: real.mailbox!,
      vehicleCertificateChain: real.vehicleCertificateChain!,
      policyFlags: real.policyFlags!,
    });
    const { phone, vehicle } = await transact(f, keyId, stranger);
    expect(phone).toMatchObject({ ok: false, error: { code: "UNKNOWN_ENDPOINT" } });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "UNKNOWN_ENDPOINT" } });
  });

  it("a replayed transaction does not unlock", async () => {
    const { f, key } = await paired();
    const recorded: Array<{ type: number; payload: Uint8Array }> = [];
    const first = await transact(f, key.keyId, f.phone.secureElement, (dir, m) => {
      if (dir === "toVehicle") recorded.push(m);
      return m;
    });
    expect(first.vehicle.kind).toBe("unlocked");
    const [attacker, vehicleLink] = createMemoryLinkPair();
    const served = f.vehicle.serve(vehicleLink);
    for (const m of recorded) await attacker.send(m);
    const outcome = await served;
    expect(outcome).toMatchObject({ kind: "failed", error: { code: "DECRYPTION_FAILED" } });
    expect(f.events.at(-1)).toMatchObject({ type: "denied" });
  });

  it("a tampered AUTH1 is refused by the phone", async () => {
    const { f, key } = await paired();
    const { phone, vehicle } = await transact(f, key.keyId, f.phone.secureElement, (_dir, m) =>
      m.type === OwnerFrameType.TXN_AUTH1 ? { ...m, payload: flipByte(m.payload, 3) } : m,
    );
    expect(phone).toMatchObject({ ok: false, error: { code: "DECRYPTION_FAILED" } });
    expect(vehicle).toMatchObject({ kind: "failed", error: { fromPeer: true } });
  });

  it("an impostor with the vehicle's certificate but not its key cannot pass AUTH1", async () => {
    const { f, key } = await paired();
    const impostor = new VehicleSimulator({
      ...f.vehicle.options,
      identity: { ...f.vehicle.identity, keyPair: crypto.generateKeyPair() },
    });
    const links = pairOf();
    const [phone, vehicle] = await Promise.all([
      runStandardTransaction({
        link: links.phone,
        crypto,
        secureElement: f.phone.secureElement,
        keyId: key.keyId,
        trustAnchors: f.trustAnchors,
      }),
      impostor.serve(links.vehicle),
    ]);
    expect(phone).toMatchObject({ ok: false, error: { code: "SIGNATURE_INVALID", fromPeer: false } });
    expect(vehicle).toMatchObject({ kind: "failed", error: { code: "SIGNATURE_INVALID", fromPeer: true } });
  });
});
