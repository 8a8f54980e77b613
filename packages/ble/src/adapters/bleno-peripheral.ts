import { TransportError } from "@pairkit/core";
import {
  AdapterUnavailableError,
  AttError,
  disconnectedError,
  GattError,
  notConnectedError,
} from "../gatt/errors.ts";
import { Listeners } from "../gatt/listeners.ts";
import { characteristicKey, ServerConnectionBase } from "../gatt/server-connection.ts";
import type {
  AdvertisementData,
  GattServerConnection,
  Peripheral,
  ServiceDefinition,
} from "../gatt/types.ts";
import { canonicalUuid, compactUuid } from "../gatt/uuids.ts";
import { encodeAdvertisingPdus } from "./advertising-pdu.ts";

/*
 * The parts of @stoprocent/bleno (0.12) this adapter uses, typed locally so that the library
 * stays an optional dependency. Bleno calls a characteristic's handlers with the connection
 * handle; `maxValueSize` in onSubscribe is MTU − 3.
 */
export type BlenoHandle = number | string;

export interface BlenoCharacteristicOptions {
  uuid: string;
  properties: string[];
  onWriteRequest?: (
    handle: BlenoHandle,
    data: Uint8Array,
    offset: number,
    withoutResponse: boolean,
    callback: (result: number) => void,
  ) => void;
  onSubscribe?: (handle: BlenoHandle, maxValueSize: number, update: (data: Uint8Array) => void) => void;
  onUnsubscribe?: (handle: BlenoHandle) => void;
}

export interface BlenoLike {
  readonly state: string;
  readonly mtu?: number;
  readonly Characteristic: new (options: BlenoCharacteristicOptions) => unknown;
  readonly PrimaryService: new (options: { uuid: string; characteristics: unknown[] }) => unknown;
  waitForPoweredOnAsync(timeout?: number): Promise<void>;
  setServicesAsync(services: unknown[]): Promise<void>;
  startAdvertisingWithEIRDataAsync(advertisementData: Buffer, scanData: Buffer): Promise<void>;
  stopAdvertisingAsync(): Promise<void>;
  disconnect(): void;
  stop(): void;
  on(event: "accept" | "disconnect", listener: (address: string, handle: BlenoHandle) => void): unknown;
  on(event: "mtuChange", listener: (mtu: number) => void): unknown;
}

export interface BlenoPeripheralOptions {
  readonly bleno?: BlenoLike;
  readonly poweredOnTimeoutMs?: number;
}

/** A peripheral on @stoprocent/bleno; fails with {@link AdapterUnavailableError} when the library or an adapter is missing. */
export async function createBlenoPeripheral(options: BlenoPeripheralOptions = {}): Promise<BlenoPeripheral> {
  const bleno = options.bleno ?? (await loadBleno());
  try {
    await bleno.waitForPoweredOnAsync(options.poweredOnTimeoutMs ?? 5000);
  } catch (cause) {
    throw new AdapterUnavailableError("Bluetooth adapter", `not powered on (state ${bleno.state})`, {
      cause,
    });
  }
  return new BlenoPeripheral(bleno);
}

async function loadBleno(): Promise<BlenoLike> {
  try {
    const module = (await import("@stoprocent/bleno")) as { default?: unknown };
    return (module.default ?? module) as BlenoLike;
  } catch (cause) {
    throw new AdapterUnavailableError(
      "@stoprocent/bleno",
      "install the optional dependency (npm install @stoprocent/bleno) on a machine with a BLE adapter",
      { cause },
    );
  }
}

export class BlenoPeripheral implements Peripheral {
  readonly id = "local";
  readonly #connections = new Listeners<[GattServerConnection]>();
  readonly #live = new Map<BlenoHandle, BlenoServerConnection>();
  #mtu: number | undefined;

  constructor(private readonly bleno: BlenoLike) {
    bleno.on("mtuChange", (mtu: number) => {
      this.#mtu = mtu;
    });
    bleno.on("accept", (address: string, handle: BlenoHandle) => {
      const connection = new BlenoServerConnection(
        address,
        () => this.#mtu ?? bleno.mtu,
        () => bleno.disconnect(),
      );
      this.#live.set(handle, connection);
      this.#connections.emit(connection);
    });
    bleno.on("disconnect", (_address: string, handle: BlenoHandle) => {
      this.#live.get(handle)?.ended();
      this.#live.delete(handle);
    });
  }

  async setServices(services: readonly ServiceDefinition[]): Promise<void> {
    const { Characteristic, PrimaryService } = this.bleno;
    const built = services.map((s) => {
      const service = canonicalUuid(s.uuid);
      return new PrimaryService({
        uuid: compactUuid(service),
        characteristics: s.characteristics.map((c) => {
          const uuid = canonicalUuid(c.uuid);
          return new Characteristic({
            uuid: compactUuid(uuid),
            properties: [...c.properties],
            onWriteRequest: (handle, data, offset, withoutResponse, callback) => {
              const connection = this.#live.get(handle);
              // Frames are whole ATT writes: a prepared (long) write or a command write is refused.
              if (!connection || offset !== 0 || withoutResponse) {
                if (!withoutResponse) callback(AttError.UNLIKELY_ERROR);
                return;
              }
              connection.written(service, uuid, new Uint8Array(data)).then(callback);
            },
            onSubscribe: (handle, maxValueSize, update) =>
              this.#live.get(handle)?.subscribed(service, uuid, maxValueSize, update),
            onUnsubscribe: (handle) => this.#live.get(handle)?.unsubscribed(service, uuid),
          });
        }),
      });
    });
    await this.bleno.setServicesAsync(built);
  }

  async startAdvertising(data: AdvertisementData): Promise<void> {
    const { advertising, scanResponse } = encodeAdvertisingPdus(data);
    await this.bleno.startAdvertisingWithEIRDataAsync(Buffer.from(advertising), Buffer.from(scanResponse));
  }

  async stopAdvertising(): Promise<void> {
    await this.bleno.stopAdvertisingAsync();
  }

  onConnection(listener: (connection: GattServerConnection) => void): () => void {
    return this.#connections.add(listener);
  }

  async close(): Promise<void> {
    await this.bleno.stopAdvertisingAsync().catch(() => {});
    if (this.#live.size > 0) this.bleno.disconnect();
    this.bleno.stop();
  }
}

class BlenoServerConnection extends ServerConnectionBase {
  readonly #updates = new Map<string, { maxValueSize: number; update: (data: Uint8Array) => void }>();
  #connected = true;

  constructor(
    readonly centralId: string,
    private readonly getMtu: () => number | undefined,
    private readonly drop: () => void,
  ) {
    super();
  }

  get mtu(): number | undefined {
    return this.getMtu();
  }

  get connected(): boolean {
    return this.#connected;
  }

  isSubscribed(service: string, characteristic: string): boolean {
    return this.#updates.has(characteristicKey(service, characteristic));
  }

  async notify(service: string, characteristic: string, value: Uint8Array): Promise<void> {
    if (!this.#connected) throw notConnectedError();
    const target = this.#updates.get(characteristicKey(service, characteristic));
    if (!target) throw new GattError("NOT_SUBSCRIBED", "the central has not enabled notifications");
    // Bleno cuts to MTU − 3 as well; doing it here keeps the behaviour explicit and the same on every radio.
    target.update(Buffer.from(value.subarray(0, target.maxValueSize)));
  }

  /** Bleno can only drop every connection at once; pairkit peripherals serve one central at a time. */
  async disconnect(): Promise<void> {
    if (this.#connected) this.drop();
  }

  /** Resolves to the ATT result code for bleno's callback, after the previous write's handler. */
  written(service: string, characteristic: string, value: Uint8Array): Promise<number> {
    return this.handleWrite(service, characteristic, value);
  }

  subscribed(
    service: string,
    characteristic: string,
    maxValueSize: number,
    update: (data: Uint8Array) => void,
  ) {
    this.#updates.set(characteristicKey(service, characteristic), { maxValueSize, update });
    this.subscriptionChanges.emit(service, characteristic, true);
  }

  unsubscribed(service: string, characteristic: string): void {
    if (this.#updates.delete(characteristicKey(service, characteristic))) {
      this.subscriptionChanges.emit(service, characteristic, false);
    }
  }

  ended(): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#updates.clear();
    this.endConnection(disconnectedError(new TransportError("DISCONNECTED", "central disconnected")));
  }
}
