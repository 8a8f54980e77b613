import { CertificateError, toHex, verifyVehicleCertificateChain } from "@pairkit/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createCarmakerCa, issueVehicleCertificate } from "../../src/vehicle/index.ts";
import { crypto } from "./fixture.ts";

const DAY = 86_400_000;

describe("vehicle certificate chain: issued by the simulator's CA, verified by the phone", () => {
  const now = Date.UTC(2026, 10, 27);
  const ca = createCarmakerCa(crypto, { now });
  const key = crypto.generateKeyPair();
  const leaf = issueVehicleCertificate(crypto, ca, {
    vehicleId: "VIN-A",
    publicKey: key.publicKey,
    now,
    validityDays: 30,
  });
  const verify = (chain: Uint8Array[], at = now, vehicleId = "VIN-A") =>
    verifyVehicleCertificateChain(crypto, { chain, trustAnchors: [ca.certificate], vehicleId, now: at });

  it("returns the vehicle identity key for a good chain", () => {
    expect(toHex(verify([leaf]))).toBe(toHex(key.publicKey));
  });

  it("refuses an expired or not yet valid certificate, another vehicle, a CA as leaf", () => {
    expect(() => verify([leaf], now + 31 * DAY)).toThrow(CertificateError);
    expect(() => verify([leaf], now - 2 * DAY)).toThrow(CertificateError);
    expect(() => verify([leaf], now, "VIN-B")).toThrow(CertificateError);
    // A leaf signed by a leaf: the issuer is not a CA.
    const sub = issueVehicleCertificate(
      crypto,
      { name: "VIN-A", certificate: leaf, keyPair: key },
      {
        vehicleId: "VIN-C",
        publicKey: crypto.generateKeyPair().publicKey,
        now,
      },
    );
    expect(() => verify([sub, leaf], now, "VIN-C")).toThrow(/not a CA/);
  });

  it("refuses a flipped bit anywhere in the certificate", () => {
    fc.assert(
      fc.property(fc.nat({ max: leaf.length * 8 - 1 }), (bit) => {
        const tampered = leaf.slice();
        tampered[bit >> 3] = tampered[bit >> 3]! ^ (1 << (bit & 7));
        try {
          verify([tampered]);
        } catch (error) {
          expect(error).toBeInstanceOf(CertificateError);
          return;
        }
        // The only flips that still verify are in unsigned outer encoding the parser normalises: none for DER.
        throw new Error(`bit ${bit} flipped and the chain still verified`);
      }),
      { numRuns: 200 },
    );
  });

  it("turns garbage into CertificateError, never anything else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (garbage) => {
        expect(() => verify([garbage])).toThrow(CertificateError);
      }),
      { numRuns: 200 },
    );
  });
});
