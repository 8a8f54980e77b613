import {
  constantTimeEqual,
  createMemoryLinkPair,
  pairOwnerVehicle,
  TimeoutError,
  type VehicleConnector,
} from "@pairkit/core";
import { describe, expect, it } from "vitest";
import type { VehicleSimulator } from "../../src/vehicle/index.ts";
import { makeFixture } from "./fixture.ts";

/** Several advertising vehicles; connecting picks the one whose manufacturer data ends in the hint. */
function connectorFor(vehicles: VehicleSimulator[], served: Array<Promise<unknown>>): VehicleConnector {
  return {
    async connect({ vehicleHint, timeoutMs }) {
      const match = vehicles.find((v) => {
        const { data } = v.manufacturerData();
        return data[0] === 0x01 && data[1] === 0x01 && constantTimeEqual(data.subarray(2), vehicleHint);
      });
      if (!match) throw new TimeoutError("scan", timeoutMs);
      const [phone, vehicle] = createMemoryLinkPair();
      served.push(match.serve(vehicle));
      return phone;
    },
  };
}

describe("pairOwnerVehicle: scan by vehicle id hash, connect, pair", () => {
  it("picks the right car among several", async () => {
    const mine = await makeFixture();
    const other = await makeFixture({ vehicleId: "WVWZZZ1JZXW000001" });
    const served: Array<Promise<unknown>> = [];
    const progress: string[] = [];
    const result = await pairOwnerVehicle({
      ...mine.phone,
      connector: connectorFor([other.vehicle, mine.vehicle], served),
      onProgress: (e) => progress.push(e.phase),
    });
    await Promise.all(served);
    expect(result.ok).toBe(true);
    expect(progress[0]).toBe("connect");
    expect(mine.vehicle.endpoints.list()).toHaveLength(1);
    expect(other.vehicle.endpoints.list()).toHaveLength(0);
  });

  it("reports a vehicle that is not in range as a connect failure", async () => {
    const mine = await makeFixture();
    const other = await makeFixture({ vehicleId: "WVWZZZ1JZXW000001" });
    const result = await pairOwnerVehicle({ ...mine.phone, connector: connectorFor([other.vehicle], []) });
    expect(result).toMatchObject({
      ok: false,
      error: { phase: "connect", code: "TIMEOUT", retryAllowed: true },
    });
  });
});
