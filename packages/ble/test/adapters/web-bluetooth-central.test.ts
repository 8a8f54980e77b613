import { AbortedError, PairkitError, TimeoutError } from "@pairkit/core";
import { describe, expect, it } from "vitest";
import {
  type BluetoothDeviceLike,
  type BluetoothLike,
  createWebBluetoothCentral,
  requestOptions,
  type WebBluetoothRequestOptions,
} from "../../src/adapters/web-bluetooth-central.ts";
import { findPeripheral } from "../../src/gatt/connect.ts";
import { ACTIVE_CARD_SERVICE, OWNER_PAIRING_SERVICE } from "../../src/gatt/uuids.ts";
import { FakeClock } from "../support/fake-clock.ts";

// The GATT path runs in real Chromium (test/browser); here: option mapping and the chooser's outcomes.
function domError(name: string): Error {
  const error = new Error(`${name} from the browser`);
  error.name = name;
  return error;
}

function bluetooth(answer: () => Promise<BluetoothDeviceLike>) {
  const requests: WebBluetoothRequestOptions[] = [];
  const fake: BluetoothLike = {
    requestDevice(options) {
      requests.push(options);
      return answer();
    },
  };
  return { fake, requests };
}

describe("Web Bluetooth central", () => {
  it("maps scan filters to requestDevice filters, and no filter to acceptAllDevices", () => {
    expect(
      requestOptions({
        timeoutMs: 1,
        filters: [
          {
            services: ["0000CCC1-7B3E-4D8A-9F61-5C0A2E94D1B7"],
            manufacturerData: { companyId: 0xffff, dataPrefix: Uint8Array.of(1) },
          },
          { namePrefix: "PK-" },
        ],
        optionalServices: [ACTIVE_CARD_SERVICE],
      }),
    ).toEqual({
      filters: [
        {
          services: [OWNER_PAIRING_SERVICE],
          manufacturerData: [{ companyIdentifier: 0xffff, dataPrefix: Uint8Array.of(1) }],
        },
        { namePrefix: "PK-" },
      ],
      optionalServices: [ACTIVE_CARD_SERVICE],
    });
    expect(requestOptions({ timeoutMs: 1 })).toEqual({ acceptAllDevices: true, optionalServices: [] });
  });

  it("yields the chosen device once; a closed chooser is an empty scan; a refusal is PERMISSION_DENIED", async () => {
    const clock = new FakeClock();
    const device = Object.assign(new EventTarget(), { id: "dev-1", name: "PK-VIN" });
    const chosen = bluetooth(async () => device);
    const central = createWebBluetoothCentral({ bluetooth: chosen.fake, clock });
    expect(await findPeripheral(central, { timeoutMs: 1000 })).toEqual({
      peripheralId: "dev-1",
      data: { serviceUuids: [], localName: "PK-VIN" },
    });

    const cancelled = createWebBluetoothCentral({
      bluetooth: bluetooth(() => Promise.reject(domError("NotFoundError"))).fake,
      clock,
    });
    await expect(findPeripheral(cancelled, { timeoutMs: 1000 })).rejects.toBeInstanceOf(TimeoutError);

    const refused = createWebBluetoothCentral({
      bluetooth: bluetooth(() => Promise.reject(domError("SecurityError"))).fake,
      clock,
    });
    const error = await findPeripheral(refused, { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PairkitError);
    expect(error).toMatchObject({ code: "PERMISSION_DENIED" });
  });

  it("ends a scan whose chooser stays open at the timeout, and on abort", async () => {
    const clock = new FakeClock();
    const central = createWebBluetoothCentral({
      bluetooth: bluetooth(() => new Promise(() => {})).fake,
      clock,
    });
    await expect(clock.run(findPeripheral(central, { timeoutMs: 1000 }))).rejects.toBeInstanceOf(
      TimeoutError,
    );
    const controller = new AbortController();
    const scan = findPeripheral(central, { timeoutMs: 1000, signal: controller.signal });
    controller.abort();
    await expect(scan).rejects.toBeInstanceOf(AbortedError);
    await expect(central.connect("unknown", { timeoutMs: 10 })).rejects.toMatchObject({
      code: "UNKNOWN_PERIPHERAL",
    });
  });
});
