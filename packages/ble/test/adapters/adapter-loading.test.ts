import { describe, expect, it, vi } from "vitest";
import { AdapterUnavailableError } from "../../src/gatt/errors.ts";

// The libraries are optional dependencies: simulate an install without them.
vi.mock("@stoprocent/noble", () => {
  throw new Error("Cannot find package '@stoprocent/noble'");
});
vi.mock("@stoprocent/bleno", () => {
  throw new Error("Cannot find package '@stoprocent/bleno'");
});

describe("optional BLE libraries", () => {
  it("are loaded only when an adapter is created, with a typed error naming the missing package", async () => {
    const { createNobleCentral } = await import("../../src/adapters/noble-central.ts");
    const { createBlenoPeripheral } = await import("../../src/adapters/bleno-peripheral.ts");
    const noble = createNobleCentral();
    await expect(noble).rejects.toBeInstanceOf(AdapterUnavailableError);
    await expect(noble).rejects.toThrow(/@stoprocent\/noble.*npm install @stoprocent\/noble/);
    const bleno = createBlenoPeripheral();
    await expect(bleno).rejects.toBeInstanceOf(AdapterUnavailableError);
    await expect(bleno).rejects.toThrow(/npm install @stoprocent\/bleno/);
  });

  it("Web Bluetooth is reported unavailable where navigator.bluetooth is missing", async () => {
    const { createWebBluetoothCentral } = await import("../../src/adapters/web-bluetooth-central.ts");
    expect(() => createWebBluetoothCentral()).toThrow(AdapterUnavailableError);
  });
});
