import {
  ApiError,
  createMemoryLinkPair,
  decodeKeyAttestation,
  encodeKeyAttestation,
  fetchOwedAttestations,
  KeychainItem,
  ManualClock,
  oweAttestation,
  owedAttestations,
  type PairingApi,
  PolicyFlag,
  runOwnerPairing,
  runStandardTransaction,
  signKeyAttestation,
  toHex,
  utf8,
  verifyKeyAttestation,
} from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { crypto, type Fixture, makeFixture } from "./fixture.ts";

/** The fixture's pairing API with a KTS that is down until switched back on; counts KTS calls. */
function switchableKts(f: Fixture): { api: PairingApi; down: boolean; calls: number } {
  const kts = {
    down: true,
    calls: 0,
    api: {
      startSession: (r) => f.api.startSession(r),
      confirmConfig: (r) => f.api.confirmConfig(r),
      requestKeyAttestation: async (r) => {
        kts.calls += 1;
        if (kts.down) throw new ApiError("KTS_UNREACHABLE", "KTS down");
        return f.api.requestKeyAttestation(r);
      },
      reportKtsResponse: (r) => f.api.reportKtsResponse(r),
    } satisfies PairingApi,
  };
  return kts;
}

describe("owner pairing end to end (memory links)", () => {
  it("pairs, attests, then unlocks with a standard transaction", async () => {
    const f = await makeFixture();
    const progress: string[] = [];
    const [phoneLink, vehicleLink] = createMemoryLinkPair();
    const [result, outcome] = await Promise.all([
      runOwnerPairing({ ...f.phone, link: phoneLink, onProgress: (e) => progress.push(e.phase) }),
      f.vehicle.serve(vehicleLink),
    ]);
    if (!result.ok) throw new Error(`pairing failed: ${result.error.code} ${result.error.message}`);
    expect(progress).toEqual(["select", "spake2", "config", "endpoint", "finalize", "attestation"]);
    expect(outcome).toMatchObject({ kind: "paired", attested: true });
    const key = result.key;
    expect(key.attested).toBe(true);
    expect(key.vehicleId).toBe(f.vehicle.identity.vehicleId);
    expect(toHex(key.vehiclePublicKey)).toBe(toHex(f.vehicle.identity.keyPair.publicKey));
    expect(key.descriptor).toMatchObject({ model: "Taycan", trim: "4S", modelYear: 2026 });

    // Both sides agree on the key; the vehicle's verifier is used up; events tell the backend.
    const stored = f.vehicle.endpoints.get(key.keyId)!;
    expect(toHex(stored.publicKey)).toBe(toHex(key.endpointPublicKey));
    expect(f.vehicle.verifiers.current()).toBeUndefined();
    expect(f.events.map((e) => e.type)).toEqual(["paired", "attested"]);

    // Phone-side persistence: SE endpoint with KeyAtt, keychain items, pairing log.
    const endpoint = (await f.phone.secureElement.getEndpoint(key.keyId))!;
    expect(endpoint.vehicleId).toBe(key.vehicleId);
    const attestation = decodeKeyAttestation(endpoint.keyAttestation!);
    expect(verifyKeyAttestation(crypto, f.api.ktsPublicKey, attestation)).toBe(true);
    expect(await f.phone.keychain.get(KeychainItem.sessionId)).toBe(f.record.sessionId);
    expect(await f.phone.keychain.get(KeychainItem.transactionId)).toBe(key.transactionId);
    expect(await f.phone.keychain.get(KeychainItem.vehicleDescriptorDigest)).toMatch(/^[0-9a-f]{64}$/);
    const log = await f.phone.log.entries();
    expect(log.at(-1)).toMatchObject({ phase: "attestation", result: "ok" });
    expect(f.api.reported).toHaveLength(1);

    // The key now opens the car.
    const [txnPhone, txnVehicle] = createMemoryLinkPair();
    const [txn, txnOutcome] = await Promise.all([
      runStandardTransaction({
        link: txnPhone,
        crypto,
        secureElement: f.phone.secureElement,
        keyId: key.keyId,
        trustAnchors: f.trustAnchors,
      }),
      f.vehicle.serve(txnVehicle),
    ]);
    expect(txn).toMatchObject({ ok: true });
    expect(txnOutcome).toMatchObject({ kind: "unlocked" });
    expect(f.events.at(-1)).toMatchObject({ type: "unlocked" });

    f.vehicle.destroy();
    expect(f.vehicle.identity.keyPair.privateKey.every((b) => b === 0)).toBe(true);
  });

  it("pairs without a reachable KTS: key works, attestation is owed", async () => {
    const f = await makeFixture();
    const { api } = switchableKts(f);
    const [phoneLink, vehicleLink] = createMemoryLinkPair();
    const [result, outcome] = await Promise.all([
      runOwnerPairing({ ...f.phone, api, link: phoneLink }),
      f.vehicle.serve(vehicleLink),
    ]);
    expect(result).toMatchObject({ ok: true, key: { attested: false } });
    expect(outcome).toMatchObject({ kind: "paired", attested: false });
    if (!result.ok) return;
    expect(await owedAttestations(f.phone.keychain)).toEqual([
      {
        keyId: toHex(result.key.keyId),
        vehicleId: f.vehicle.identity.vehicleId,
        transactionId: result.key.transactionId,
        ktsEndpointUrl: expect.any(String),
        fetched: false,
      },
    ]);
  });

  it("delivers an attestation owed since pairing: fetched with back-off, carried by the next transaction", async () => {
    const f = await makeFixture({ policyFlags: PolicyFlag.PIN_TO_DRIVE | PolicyFlag.ATTESTATION_REQUIRED });
    const kts = switchableKts(f);
    const phone = { ...f.phone, api: kts.api };
    const [pair, vehicleSide] = createMemoryLinkPair();
    const [result] = await Promise.all([
      runOwnerPairing({ ...phone, link: pair }),
      f.vehicle.serve(vehicleSide),
    ]);
    if (!result.ok) throw new Error(`pairing failed: ${result.error.code}`);
    const keyId = result.key.keyId;
    const transaction = async () => {
      const [phoneLink, vehicleLink] = createMemoryLinkPair();
      const [outcome] = await Promise.all([
        runStandardTransaction({
          link: phoneLink,
          crypto,
          secureElement: phone.secureElement,
          keyId,
          trustAnchors: f.trustAnchors,
          keychain: phone.keychain,
        }),
        f.vehicle.serve(vehicleLink),
      ]);
      return outcome;
    };

    // Policy bit 2: the unattested key does not drive.
    expect(await transaction()).toMatchObject({ ok: false, error: { code: "ATTESTATION_REQUIRED" } });

    // The KTS stays down for every try of this round: still owed, nothing stored.
    const clock = new ManualClock(Date.now());
    const fetch = (random = () => 0.5) =>
      fetchOwedAttestations({
        ...phone,
        clock,
        random,
        backoff: { initialDelayMs: 1000, maxDelayMs: 4000, maxAttempts: 4 },
      });
    const firstRound = fetch();
    // Waits of 0.5 × 1 s, 2 s, 4 s between the four tries.
    for (const wait of [500, 1000, 2000]) {
      await expect.poll(() => clock.pending).toBe(1);
      clock.advance(wait);
    }
    expect(await firstRound).toEqual({ fetched: [], stillOwed: [toHex(keyId)], abandoned: [] });
    expect(kts.calls).toBe(1 + 4);
    expect((await phone.secureElement.getEndpoint(keyId))?.keyAttestation).toBeUndefined();

    // The KTS is back: the attestation is fetched, verified and stored, then rides the next transaction.
    kts.down = false;
    expect(await fetch()).toEqual({ fetched: [toHex(keyId)], stillOwed: [], abandoned: [] });
    expect(await owedAttestations(phone.keychain)).toMatchObject([{ fetched: true }]);
    expect(f.vehicle.endpoints.get(keyId)?.keyAttestation).toBeUndefined();
    expect(await transaction()).toMatchObject({ ok: true });
    expect(f.vehicle.endpoints.get(keyId)?.keyAttestation).toEqual(
      (await phone.secureElement.getEndpoint(keyId))?.keyAttestation,
    );
    expect(f.events.map((e) => e.type)).toContain("attested");
    expect(await owedAttestations(phone.keychain)).toEqual([]);
    // Settled: the following transaction carries no attestation and still opens.
    expect(await transaction()).toMatchObject({ ok: true });
  });

  it("a vehicle refuses an owed attestation the KTS did not sign, and the debt stays", async () => {
    const f = await makeFixture();
    const { api } = switchableKts(f);
    const [pair, vehicleSide] = createMemoryLinkPair();
    const [result] = await Promise.all([
      runOwnerPairing({ ...f.phone, api, link: pair }),
      f.vehicle.serve(vehicleSide),
    ]);
    if (!result.ok) throw new Error(`pairing failed: ${result.error.code}`);
    // An attestation with every field right but signed by a key that is not the KTS, planted in the
    // phone's SE and marked fetched (a compromised app or a rogue KTS endpoint).
    const forged = signKeyAttestation(crypto, crypto.generateKeyPair().privateKey, {
      keyId: result.key.keyId,
      vehicleId: utf8(f.vehicle.identity.vehicleId),
      endpointPublicKeyHash: crypto.sha256(result.key.endpointPublicKey),
      issuedAt: Date.now(),
    });
    await f.phone.secureElement.storeKeyAttestation(result.key.keyId, encodeKeyAttestation(forged));
    const [owed] = await owedAttestations(f.phone.keychain);
    await oweAttestation(f.phone.keychain, { ...owed!, fetched: true });
    const [phoneLink, vehicleLink] = createMemoryLinkPair();
    const [outcome] = await Promise.all([
      runStandardTransaction({
        link: phoneLink,
        crypto,
        secureElement: f.phone.secureElement,
        keyId: result.key.keyId,
        trustAnchors: f.trustAnchors,
        keychain: f.phone.keychain,
      }),
      f.vehicle.serve(vehicleLink),
    ]);
    expect(outcome).toMatchObject({ ok: false, error: { code: "ATTESTATION_INVALID" } });
    expect(f.vehicle.endpoints.get(result.key.keyId)?.keyAttestation).toBeUndefined();
    expect(await owedAttestations(f.phone.keychain)).toHaveLength(1);
  });
});
