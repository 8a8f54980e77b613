import {
  centralVehicleConnector,
  type InterceptedPdu,
  openRadioCentral,
  openRadioPeripheral,
} from "@pairkit/ble";
import { type RadioServer, startRadioServer } from "@pairkit/ble/node";
import { pairOwnerVehicle, runStandardTransaction, utf8 } from "@pairkit/core";
import { afterEach, describe, expect, it } from "vitest";
import { advertiseVehicle, type VehicleSessionOutcome } from "../../src/vehicle/index.ts";
import { crypto, makeFixture, PASSWORD } from "./fixture.ts";

let server: RadioServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("owner pairing over the WebSocket radio", () => {
  it("pairs and unlocks; an eavesdropper on the air sees neither the password nor the configuration", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
    const air: InterceptedPdu[] = [];
    server.radio.faults = {
      mitm: (pdu) => {
        air.push(pdu);
        return undefined;
      },
    };
    const f = await makeFixture();
    const outcomes: VehicleSessionOutcome[] = [];
    const peripheral = await openRadioPeripheral(server.url, { nodeId: "vehicle", mtu: 247 });
    const stop = await advertiseVehicle(f.vehicle, peripheral, { onOutcome: (o) => outcomes.push(o) });
    const central = await openRadioCentral(server.url, { mtu: 185 });
    const connector = centralVehicleConnector(central, { crypto });

    const result = await pairOwnerVehicle({ ...f.phone, connector });
    if (!result.ok) throw new Error(`pairing failed: ${result.error.phase} ${result.error.code}`);
    const hint = f.vehicle.manufacturerData().data.subarray(2);
    const txn = await runStandardTransaction({
      link: await connector.connect({ vehicleHint: hint, timeoutMs: 5000 }),
      crypto,
      secureElement: f.phone.secureElement,
      keyId: result.key.keyId,
      trustAnchors: f.trustAnchors,
    });
    expect(txn).toMatchObject({ ok: true });
    await expect.poll(() => outcomes.map((o) => o.kind)).toEqual(["paired", "unlocked"]);

    const onAir = Buffer.concat(air.map((p) => Buffer.from(p.value)));
    expect(onAir.length).toBeGreaterThan(1000);
    for (const secret of [
      utf8(PASSWORD),
      utf8("Taycan"),
      f.vehicle.identity.certificateChain[0]!.subarray(0, 64),
    ])
      expect(onAir.includes(Buffer.from(secret))).toBe(false);
    await stop();
    await central.close();
    await peripheral.close();
  });
});
