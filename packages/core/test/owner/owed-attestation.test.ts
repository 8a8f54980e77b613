import { describe, expect, it } from "vitest";
import {
  ApiError,
  fetchOwedAttestations,
  KeychainItem,
  MemoryKeychain,
  nobleCrypto,
  oweAttestation,
  owedAttestations,
  type PairingApi,
  SoftwareSecureElement,
  settleAttestation,
  toHex,
} from "../../src/index.ts";
import { FakeClock } from "./fake-clock.ts";

const crypto = nobleCrypto;
const unused = async () => {
  throw new Error("not called");
};

async function owing() {
  const keychain = new MemoryKeychain();
  const secureElement = SoftwareSecureElement.inMemory(crypto);
  const { keyId } = await secureElement.createEndpoint();
  await oweAttestation(keychain, {
    keyId: toHex(keyId),
    vehicleId: "VIN1",
    transactionId: "t-1",
    ktsEndpointUrl: "https://kts.example/kts/attestations",
    fetched: false,
  });
  return { keychain, secureElement, keyId };
}

describe("owed attestations", () => {
  it("keeps one record per key, replaces by key id and settles", async () => {
    const { keychain, keyId } = await owing();
    await oweAttestation(keychain, { ...(await owedAttestations(keychain))[0]!, fetched: true });
    expect(await owedAttestations(keychain)).toMatchObject([{ keyId: toHex(keyId), fetched: true }]);
    await settleAttestation(keychain, keyId);
    expect(await keychain.get(KeychainItem.owedAttestations)).toBeUndefined();
  });

  it("a corrupt keychain item is a typed error, not a crash or a silent reset", async () => {
    const keychain = new MemoryKeychain();
    for (const text of ["{", "{}", '[{"keyId":"zz"}]']) {
      await keychain.set(KeychainItem.owedAttestations, text);
      await expect(owedAttestations(keychain)).rejects.toMatchObject({ code: "KEYCHAIN_CORRUPT" });
    }
  });

  it("drops the debt when the key is revoked server-side or gone from the secure element", async () => {
    const revoked = await owing();
    const api: Pick<PairingApi, "requestKeyAttestation" | "reportKtsResponse"> = {
      requestKeyAttestation: async () => {
        throw new ApiError("KEY_NOT_ACTIVE", "key is revoked");
      },
      reportKtsResponse: unused,
    };
    expect(await fetchOwedAttestations({ crypto, api, ...revoked })).toEqual({
      fetched: [],
      stillOwed: [],
      abandoned: [toHex(revoked.keyId)],
    });
    expect(await owedAttestations(revoked.keychain)).toEqual([]);
    expect((await revoked.keychain.auditEntries()).map((e) => e.event)).toEqual(["attestation-abandoned"]);

    const deleted = await owing();
    await deleted.secureElement.deleteEndpoint(deleted.keyId);
    const result = await fetchOwedAttestations({
      crypto,
      api: { requestKeyAttestation: unused, reportKtsResponse: unused },
      ...deleted,
    });
    expect(result.abandoned).toEqual([toHex(deleted.keyId)]);
  });

  it("does not retry a refusal that is not transient, and an abort stops the back-off", async () => {
    const refused = await owing();
    let calls = 0;
    const api = {
      requestKeyAttestation: async () => {
        calls += 1;
        throw new ApiError("KTS_UNTRUSTED", "KTS origin not trusted");
      },
      reportKtsResponse: unused,
    };
    expect(await fetchOwedAttestations({ crypto, api, ...refused })).toMatchObject({
      stillOwed: [toHex(refused.keyId)],
    });
    expect(calls).toBe(1);

    const waiting = await owing();
    const clock = new FakeClock();
    const controller = new AbortController();
    const run = fetchOwedAttestations({
      crypto,
      clock,
      signal: controller.signal,
      api: {
        requestKeyAttestation: async () => {
          throw new ApiError("SERVER_BUSY", "busy", { retryAfter: 30 });
        },
        reportKtsResponse: unused,
      },
      ...waiting,
    });
    await expect.poll(() => clock.pending).toBe(1);
    controller.abort(new Error("app backgrounded"));
    await expect(run).rejects.toThrow("app backgrounded");
    expect(clock.pending).toBe(0);
    expect(await owedAttestations(waiting.keychain)).toMatchObject([{ fetched: false }]);
  });
});
