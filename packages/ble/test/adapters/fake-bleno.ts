import { EventEmitter } from "node:events";
import { createRequire } from "node:module";

// Bleno's own GATT database classes are plain JavaScript without native code: the fake uses them,
// so the adapter's characteristics are exercised exactly as bleno's HCI GATT server calls them.
const require = createRequire(import.meta.url);
const Characteristic = require("@stoprocent/bleno/lib/characteristic.js");
const PrimaryService = require("@stoprocent/bleno/lib/primary-service.js");

export interface BlenoCharacteristicObject extends EventEmitter {
  uuid: string;
  properties: string[];
}

/**
 * A fake of @stoprocent/bleno's Bleno EventEmitter. The test plays the remote central the way
 * bleno's HCI bindings do: `accept`/`disconnect` with (address, handle), `mtuChange`, and on a
 * characteristic `writeRequest` (handle, data, offset, withoutResponse, callback),
 * `subscribe` (handle, mtu − 3, updateValueCallback) and `unsubscribe` (handle).
 */
export class FakeBleno extends EventEmitter {
  readonly Characteristic = Characteristic;
  readonly PrimaryService = PrimaryService;
  state = "poweredOn";
  mtu = 23;
  services: { uuid: string; characteristics: BlenoCharacteristicObject[] }[] = [];
  advertising: { advertisement: Buffer; scanResponse: Buffer } | undefined;
  disconnects = 0;
  stopped = false;

  async waitForPoweredOnAsync(): Promise<void> {
    if (this.state !== "poweredOn") throw new Error(`state ${this.state}`);
  }

  async setServicesAsync(services: { uuid: string; characteristics: BlenoCharacteristicObject[] }[]) {
    this.services = services;
  }

  async startAdvertisingWithEIRDataAsync(advertisement: Buffer, scanResponse: Buffer): Promise<void> {
    this.advertising = { advertisement, scanResponse };
  }

  async stopAdvertisingAsync(): Promise<void> {
    this.advertising = undefined;
  }

  disconnect(): void {
    this.disconnects++;
  }

  stop(): void {
    this.stopped = true;
  }

  characteristic(uuid: string): BlenoCharacteristicObject {
    for (const s of this.services) {
      const c = s.characteristics.find((x) => x.uuid === uuid);
      if (c) return c;
    }
    throw new Error(`no characteristic ${uuid}`);
  }

  /** Bleno's GATT server answering an ATT Write Request: resolves with the result code given to the callback. */
  write(uuid: string, handle: number, data: Uint8Array, offset = 0): Promise<number> {
    return new Promise((resolve) =>
      this.characteristic(uuid).emit("writeRequest", handle, Buffer.from(data), offset, false, resolve),
    );
  }
}
