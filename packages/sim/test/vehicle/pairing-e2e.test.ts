import {
  ApiError,
  createMemoryLinkPair,
  decodeKeyAttestation,
  KeychainItem,
  type PairingApi,
  runOwnerPairing,
  runStandardTransaction,
  toHex,
  verifyKeyAttestation,
} from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { crypto, makeFixture } from "./fixture.ts";

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
    const api: PairingApi = {
      startSession: (r) => f.api.startSession(r),
      confirmConfig: (r) => f.api.confirmConfig(r),
      requestKeyAttestation: async () => {
        throw new ApiError("KTS_UNREACHABLE", "KTS down");
      },
      reportKtsResponse: (r) => f.api.reportKtsResponse(r),
    };
    const [phoneLink, vehicleLink] = createMemoryLinkPair();
    const [result, outcome] = await Promise.all([
      runOwnerPairing({ ...f.phone, api, link: phoneLink }),
      f.vehicle.serve(vehicleLink),
    ]);
    expect(result).toMatchObject({ ok: true, key: { attested: false } });
    expect(outcome).toMatchObject({ kind: "paired", attested: false });
    if (!result.ok) return;
    expect(await f.phone.keychain.get(KeychainItem.pendingAttestation)).toBe(toHex(result.key.keyId));
  });
});
