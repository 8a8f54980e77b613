import {
  type Clock,
  createMemoryLinkPair,
  derivePasswordScalars,
  encodeScalar,
  type Link,
  LocalPairingApi,
  MemoryKeychain,
  MemoryPairingLog,
  nobleCrypto,
  type OwnerPairingOptions,
  PolicyFlag,
  type ScryptParams,
  SoftwareSecureElement,
  systemClock,
  utf8,
  verifierFromScalars,
} from "@pairkit/core";
import {
  createCarmakerCa,
  issueVehicleCertificate,
  type VehicleEvent,
  VehicleSimulator,
  type VerifierRecord,
} from "../../src/vehicle/index.ts";

export const crypto = nobleCrypto;
/** Cheap scrypt for tests: the protocol under test does not depend on the cost. */
export const TEST_SCRYPT: ScryptParams = { N: 1024, r: 8, p: 1 };
export const VEHICLE_ID = "WP0ZZZ99ZTS392124";
export const PASSWORD = "48151623";

export interface Fixture {
  readonly vehicle: VehicleSimulator;
  readonly events: VehicleEvent[];
  readonly record: VerifierRecord;
  readonly trustAnchors: Uint8Array[];
  readonly api: LocalPairingApi;
  readonly phone: Omit<OwnerPairingOptions, "link">;
  readonly caKey: Uint8Array;
}

export async function verifierRecord(
  clock: Clock,
  overrides: Partial<VerifierRecord> & { password?: string } = {},
): Promise<VerifierRecord> {
  const salt = crypto.randomBytes(16);
  const scalars = await derivePasswordScalars(crypto, overrides.password ?? PASSWORD, salt, TEST_SCRYPT);
  const verifier = verifierFromScalars(crypto, scalars);
  return {
    sessionId: "5f0c7a52-4c0e-4d59-9a53-2b1d6d7f0a11",
    salt,
    scrypt: TEST_SCRYPT,
    w0: encodeScalar(verifier.w0),
    L: verifier.L,
    expiresAt: clock.now() + 600_000,
    maxAttempts: 3,
    ...overrides,
  };
}

export async function makeFixture(
  options: { clock?: Clock; policyFlags?: number; vehicleId?: string; vehicleKts?: boolean } = {},
): Promise<Fixture> {
  const clock = options.clock ?? systemClock;
  const ca = createCarmakerCa(crypto, { now: clock.now() });
  const identityKey = crypto.generateKeyPair();
  const vehicleId = options.vehicleId ?? VEHICLE_ID;
  const certificate = issueVehicleCertificate(crypto, ca, {
    vehicleId,
    publicKey: identityKey.publicKey,
    now: clock.now(),
  });
  const api = new LocalPairingApi(crypto, clock);
  const events: VehicleEvent[] = [];
  const vehicle = new VehicleSimulator({
    crypto,
    clock,
    identity: { vehicleId, keyPair: identityKey, certificateChain: [certificate] },
    descriptor: { model: "Taycan", trim: "4S", modelYear: 2026 },
    mailbox: {
      privateMailbox: { offset: 0, size: 256 },
      confidentialMailbox: { offset: 256, size: 128 },
      signalingBitmapOffset: 384,
      keyAttestationOffset: 400,
    },
    policyFlags: options.policyFlags ?? PolicyFlag.PIN_TO_DRIVE,
    ...(options.vehicleKts === false ? {} : { ktsPublicKey: api.ktsPublicKey }),
    onEvent: (e) => events.push(e),
  });
  const record = await verifierRecord(clock);
  await vehicle.provision(record);
  return {
    vehicle,
    events,
    record,
    trustAnchors: [ca.certificate],
    api,
    caKey: ca.keyPair.privateKey,
    phone: {
      crypto,
      clock,
      bootstrap: { sessionId: record.sessionId, password: PASSWORD, scrypt: TEST_SCRYPT, vehicleId },
      deviceId: utf8("device-7f3a9c"),
      trustAnchors: [ca.certificate],
      secureElement: SoftwareSecureElement.inMemory(crypto, clock),
      keychain: new MemoryKeychain(),
      log: new MemoryPairingLog(),
      api,
      ktsPublicKey: api.ktsPublicKey,
    },
  };
}

/** A man in the middle between phone and vehicle: sees every message and may change, drop or add. */
export type Tamper = (
  direction: "toVehicle" | "toPhone",
  message: { type: number; payload: Uint8Array },
) => { type: number; payload: Uint8Array } | undefined;

/** Phone ↔ attacker ↔ vehicle over two in-memory link pairs. */
export function interceptedLinks(tamper: Tamper): { phone: Link; vehicle: Link } {
  const [phone, attackerFacingPhone] = createMemoryLinkPair();
  const [attackerFacingVehicle, vehicle] = createMemoryLinkPair();
  const relay = async (from: Link, to: Link, direction: "toVehicle" | "toPhone") => {
    try {
      for (;;) {
        const message = await from.receive({ timeoutMs: 3_600_000 });
        const forwarded = tamper(direction, { type: message.type, payload: message.payload.slice() });
        if (forwarded) await to.send(forwarded);
      }
    } catch {
      await to.close();
    }
  };
  void relay(attackerFacingPhone, attackerFacingVehicle, "toVehicle");
  void relay(attackerFacingVehicle, attackerFacingPhone, "toPhone");
  return { phone, vehicle };
}
