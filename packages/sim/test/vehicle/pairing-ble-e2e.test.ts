import { centralVehicleConnector, SimRadio } from "@pairkit/ble";
import { pairOwnerVehicle, runStandardTransaction, toHex } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import { advertiseVehicle, type VehicleSessionOutcome } from "../../src/vehicle/index.ts";
import { crypto, makeFixture } from "./fixture.ts";

describe("owner pairing over the simulated BLE radio (30 ms interval, MTU 185)", () => {
  it("finds the right vehicle among two, pairs, then unlocks with a standard transaction", async () => {
    const radio = new SimRadio({ connectionIntervalMs: 30 });
    const mine = await makeFixture();
    const other = await makeFixture({ vehicleId: "WVWZZZ1JZXW000001" });
    const outcomes: VehicleSessionOutcome[] = [];
    const stopOther = await advertiseVehicle(
      other.vehicle,
      radio.createPeripheral({ id: "other", mtu: 247 }),
    );
    const stopMine = await advertiseVehicle(mine.vehicle, radio.createPeripheral({ id: "mine", mtu: 247 }), {
      onOutcome: (o) => outcomes.push(o),
    });
    const central = radio.createCentral({ mtu: 185 });
    const connector = centralVehicleConnector(central, { crypto });

    const progress: string[] = [];
    const result = await pairOwnerVehicle({
      ...mine.phone,
      connector,
      onProgress: (e) => progress.push(e.phase),
    });
    if (!result.ok) throw new Error(`pairing failed: ${result.error.phase} ${result.error.code}`);
    expect(progress).toEqual([
      "connect",
      "select",
      "spake2",
      "config",
      "endpoint",
      "finalize",
      "attestation",
    ]);
    expect(result.key.attested).toBe(true);
    await expect.poll(() => outcomes.length).toBe(1);
    expect(outcomes[0]).toMatchObject({ kind: "paired", attested: true });
    expect(toHex(mine.vehicle.endpoints.get(result.key.keyId)!.publicKey)).toBe(
      toHex(result.key.endpointPublicKey),
    );
    expect(other.vehicle.endpoints.list()).toHaveLength(0);

    // A new connection, a standard transaction: the car opens.
    const link = await connector.connect({
      vehicleHint: mine.vehicle.manufacturerData().data.subarray(2),
      timeoutMs: 5000,
    });
    const txn = await runStandardTransaction({
      link,
      crypto,
      secureElement: mine.phone.secureElement,
      keyId: result.key.keyId,
      trustAnchors: mine.trustAnchors,
    });
    expect(txn).toMatchObject({ ok: true });
    await expect.poll(() => outcomes.length).toBe(2);
    expect(outcomes[1]).toMatchObject({ kind: "unlocked" });
    await stopMine();
    await stopOther();
  });
});
