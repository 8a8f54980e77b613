import type { Peripheral } from "@pairkit/ble";
import { type Crypto, decodeBase64, encodeBase64, PairkitError } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { DEMO } from "@pairkit/server";
import { advertiseVehicle } from "../vehicle/ble-vehicle.ts";
import {
  type CertificateAuthority,
  createCarmakerCa,
  issueVehicleCertificate,
} from "../vehicle/certificates.ts";
import { EndpointStore } from "../vehicle/endpoint-store.ts";
import { MqttVehicleProvisioning } from "../vehicle/mqtt-provisioning.ts";
import { type VehicleEvent, type VehicleSessionOutcome, VehicleSimulator } from "../vehicle/vehicle.ts";
import {
  type FleetState,
  type FleetStateStore,
  keyPairOf,
  memoryFleetState,
  type StoredVehicle,
} from "./fleet-state.ts";

export interface DemoFleetOptions {
  /** The backend in development mode: it issues the vehicles' MQTT credentials and publishes the KTS key. */
  readonly serverUrl: string;
  /** The BLE peripheral each vehicle advertises on (a WebSocket radio node, a SimRadio peripheral, bleno); the fleet closes it. */
  readonly peripheral: (vehicleId: string) => Promise<Peripheral>;
  /** CA, identities and paired keys between runs (default: kept in memory only). */
  readonly state?: FleetStateStore;
  readonly crypto?: Crypto;
  /**
   * Which vehicles to run (default: every demo vehicle). Any vehicle registered with the backend
   * (the demo seed, or `POST /admin/vehicles`) can run here; an unregistered one is refused.
   */
  readonly vehicleIds?: readonly string[];
  /** Model names for vehicles that are not demo vehicles (DEVICE_CONFIG descriptor); default their id. */
  readonly models?: Readonly<Record<string, string>>;
  readonly onEvent?: (vehicleId: string, event: VehicleEvent) => void;
  readonly onOutcome?: (vehicleId: string, outcome: VehicleSessionOutcome) => void;
}

export interface FleetVehicle {
  readonly vehicleId: string;
  readonly model: string;
  readonly simulator: VehicleSimulator;
}

export interface DemoFleet {
  readonly vehicles: readonly FleetVehicle[];
  /** The carmaker root a phone must trust to accept these vehicles' certificates. */
  readonly trustAnchors: readonly Uint8Array[];
  close(): Promise<void>;
}

/** The mailbox layout every demo vehicle offers (docs/protocol.md §3.6). */
const MAILBOX = {
  privateMailbox: { offset: 0, size: 256 },
  confidentialMailbox: { offset: 256, size: 128 },
  signalingBitmapOffset: 384,
  keyAttestationOffset: 400,
} as const;
/** The policy the server seeds for demo vehicles (db/demo-data.ts). */
const DEMO_POLICY_FLAGS = 0b011;

/**
 * The simulated demo fleet of `pairkit serve` and `pairkit demo`: each DEMO vehicle with its own
 * identity key and certificate under one carmaker CA, registered with the backend, on the vehicle
 * link (MQTT) and advertising on its peripheral. Identities and paired keys are kept in `state`,
 * so a restarted fleet still opens for the keys paired before.
 */
export async function startDemoFleet(options: DemoFleetOptions): Promise<DemoFleet> {
  const crypto = options.crypto ?? nodeCrypto;
  const store = options.state ?? memoryFleetState();
  const ids = options.vehicleIds ?? Object.values(DEMO.vehicles).map((v) => v.id);
  const demoModels = new Map<string, string>(Object.values(DEMO.vehicles).map((v) => [v.id, v.model]));
  const modelOf = (id: string) => options.models?.[id] ?? demoModels.get(id) ?? id;

  const loaded = await store.load();
  const now = Date.now();
  const ca: CertificateAuthority = loaded
    ? {
        name: loaded.ca.name,
        certificate: loaded.ca.certificate,
        keyPair: keyPairOf(crypto, loaded.ca.privateKey),
      }
    : createCarmakerCa(crypto, { now });
  const vehicles: Record<string, StoredVehicle> = { ...loaded?.vehicles };
  for (const id of ids) {
    if (vehicles[id]) continue;
    const keyPair = crypto.generateKeyPair();
    vehicles[id] = {
      privateKey: keyPair.privateKey,
      certificate: issueVehicleCertificate(crypto, ca, { vehicleId: id, publicKey: keyPair.publicKey, now }),
      endpoints: [],
    };
  }
  const snapshot = (): FleetState => ({
    ca: { name: ca.name, certificate: ca.certificate, privateKey: ca.keyPair.privateKey },
    vehicles: { ...vehicles },
  });
  await store.save(snapshot());

  const ktsPublicKey = decodeBase64(
    (await backend<{ publicKey: string }>(options.serverUrl, "/kts/public-key")).publicKey,
    "KTS public key",
  );

  const running: { vehicle: FleetVehicle; link: MqttVehicleProvisioning; stop: () => Promise<void> }[] = [];
  const close = async () => {
    for (const { vehicle, link, stop } of running.splice(0)) {
      await stop();
      await link.close();
      vehicle.simulator.destroy();
    }
  };
  try {
    for (const id of ids) {
      const stored = vehicles[id]!;
      const keyPair = keyPairOf(crypto, stored.privateKey);
      const credentials = await backend<{ mqttUrl: string; password: string }>(
        options.serverUrl,
        `/dev/vehicles/${encodeURIComponent(id)}/credentials`,
        { identityPublicKey: encodeBase64(keyPair.publicKey) },
        () =>
          new PairkitError(
            "FLEET_UNKNOWN_VEHICLE",
            `${id} is not registered with the backend (register it with POST /admin/vehicles)`,
          ),
      );
      let link: MqttVehicleProvisioning | undefined;
      const simulator = new VehicleSimulator({
        crypto,
        identity: { vehicleId: id, keyPair, certificateChain: [stored.certificate] },
        descriptor: { model: modelOf(id) },
        mailbox: MAILBOX,
        policyFlags: DEMO_POLICY_FLAGS,
        ktsPublicKey,
        endpoints: new EndpointStore(stored.endpoints, (endpoints) => {
          vehicles[id] = { ...vehicles[id]!, endpoints };
          // A failed save leaves the previous state on disk; the vehicle keeps serving from memory.
          store.save(snapshot()).catch(() => undefined);
        }),
        onEvent: (event) => {
          link?.onVehicleEvent(event);
          options.onEvent?.(id, event);
        },
      });
      link = await MqttVehicleProvisioning.connect(simulator, {
        url: credentials.mqttUrl,
        vehicleId: id,
        password: credentials.password,
      });
      const vehicle = { vehicleId: id, model: modelOf(id), simulator };
      const pending: (typeof running)[number] = { vehicle, link, stop: async () => undefined };
      running.push(pending);
      const peripheral = await options.peripheral(id);
      pending.stop = () => peripheral.close();
      const stopAdvertising = await advertiseVehicle(simulator, peripheral, {
        localName: `pairkit ${id}`,
        onOutcome: (outcome) => options.onOutcome?.(id, outcome),
      });
      pending.stop = async () => {
        await stopAdvertising();
        await peripheral.close();
      };
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { vehicles: running.map((r) => r.vehicle), trustAnchors: [ca.certificate], close };
}

/** One development-mode call to the backend; an unreachable or refusing backend is a typed error. */
async function backend<T>(
  serverUrl: string,
  path: string,
  body?: unknown,
  notFound?: () => PairkitError,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(new URL(path, serverUrl), {
      method: body === undefined ? "GET" : "POST",
      ...(body !== undefined && {
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    });
  } catch (cause) {
    throw new PairkitError("FLEET_BACKEND_UNREACHABLE", `cannot reach the backend at ${serverUrl}`, {
      cause,
    });
  }
  if (response.status === 404 && notFound) throw notFound();
  if (!response.ok) {
    throw new PairkitError("FLEET_BACKEND_REFUSED", `${path}: the backend answered ${response.status}`);
  }
  return (await response.json()) as T;
}
