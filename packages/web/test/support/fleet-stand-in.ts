// Stand-in for @pairkit/sim/fleet until it lands on main: the same shape, the two seeded vehicles.
import type { Peripheral } from "@pairkit/ble";
import { type Crypto, nobleCrypto } from "@pairkit/core";
import { DEMO } from "@pairkit/server";
import { advertiseVehicle, createCarmakerCa, issueVehicleCertificate, VehicleSimulator } from "@pairkit/sim";
import { MqttVehicleProvisioning } from "@pairkit/sim/mqtt";

export async function startDemoFleet(options: {
  serverUrl: string;
  peripheral: (vehicleId: string) => Promise<Peripheral>;
  crypto?: Crypto;
}) {
  const crypto = options.crypto ?? nobleCrypto;
  const ca = createCarmakerCa(crypto, { now: Date.now() });
  const kts = (await (await fetch(`${options.serverUrl}/kts/public-key`)).json()) as { publicKey: string };
  const closers: (() => Promise<void>)[] = [];
  const vehicles = [];
  for (const v of Object.values(DEMO.vehicles)) {
    const keyPair = crypto.generateKeyPair();
    const certificate = issueVehicleCertificate(crypto, ca, {
      vehicleId: v.id,
      publicKey: keyPair.publicKey,
      now: Date.now(),
    });
    const credentials = (await (
      await fetch(`${options.serverUrl}/dev/vehicles/${v.id}/credentials`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ identityPublicKey: Buffer.from(keyPair.publicKey).toString("base64") }),
      })
    ).json()) as { mqttUrl: string; password: string };
    let link: MqttVehicleProvisioning | undefined;
    const simulator = new VehicleSimulator({
      crypto,
      identity: { vehicleId: v.id, keyPair, certificateChain: [certificate] },
      descriptor: { model: v.model },
      mailbox: {
        privateMailbox: { offset: 0, size: 256 },
        confidentialMailbox: { offset: 256, size: 128 },
        signalingBitmapOffset: 384,
        keyAttestationOffset: 400,
      },
      policyFlags: 0b011,
      ktsPublicKey: new Uint8Array(Buffer.from(kts.publicKey, "base64")),
      onEvent: (event) => link?.onVehicleEvent(event),
    });
    link = await MqttVehicleProvisioning.connect(simulator, {
      url: credentials.mqttUrl,
      vehicleId: v.id,
      password: credentials.password,
    });
    const peripheral = await options.peripheral(v.id);
    const stop = await advertiseVehicle(simulator, peripheral);
    closers.push(async () => {
      await stop();
      await peripheral.close();
      await link?.close();
    });
    vehicles.push({ vehicleId: v.id, simulator });
  }
  return {
    vehicles,
    trustAnchors: [ca.certificate],
    close: async () => {
      for (const close of closers) await close();
    },
  };
}
