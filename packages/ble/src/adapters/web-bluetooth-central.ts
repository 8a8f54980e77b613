import { AbortedError, type Clock, PairkitError, systemClock, TransportError } from "@pairkit/core";
import { AsyncQueue } from "../gatt/async-queue.ts";
import { abortable, withDeadline } from "../gatt/deadline.ts";
import { AdapterUnavailableError, disconnectedError, GattError, notConnectedError } from "../gatt/errors.ts";
import { Listeners } from "../gatt/listeners.ts";
import type {
  Advertisement,
  Central,
  CharacteristicProperty,
  ConnectOptions,
  GattClient,
  OperationOptions,
  ScanFilter,
  ScanOptions,
  ServiceInfo,
  Subscription,
} from "../gatt/types.ts";
import { canonicalUuid } from "../gatt/uuids.ts";

/*
 * The Web Bluetooth surface this adapter uses (https://webbluetoothcg.github.io/web-bluetooth/),
 * typed locally because TypeScript's DOM library does not include it.
 */
export interface BluetoothLike {
  requestDevice(options: WebBluetoothRequestOptions): Promise<BluetoothDeviceLike>;
}

export interface WebBluetoothRequestOptions {
  filters?: {
    services?: string[];
    namePrefix?: string;
    manufacturerData?: { companyIdentifier: number; dataPrefix?: Uint8Array }[];
  }[];
  acceptAllDevices?: boolean;
  optionalServices?: string[];
}

export interface BluetoothDeviceLike extends EventTarget {
  readonly id: string;
  readonly name?: string | null;
  readonly gatt?: BluetoothRemoteGattServerLike;
}

export interface BluetoothRemoteGattServerLike {
  readonly connected: boolean;
  connect(): Promise<BluetoothRemoteGattServerLike>;
  disconnect(): void;
  getPrimaryServices(): Promise<BluetoothServiceLike[]>;
}

export interface BluetoothServiceLike {
  readonly uuid: string;
  getCharacteristics(): Promise<BluetoothCharacteristicLike[]>;
}

export interface BluetoothCharacteristicLike extends EventTarget {
  readonly uuid: string;
  readonly properties: { read: boolean; write: boolean; notify: boolean; indicate: boolean };
  readonly value?: DataView | null;
  writeValueWithResponse(value: BufferSource): Promise<void>;
  startNotifications(): Promise<unknown>;
  stopNotifications(): Promise<unknown>;
}

export interface WebBluetoothCentralOptions {
  /** Defaults to `navigator.bluetooth`. */
  readonly bluetooth?: BluetoothLike;
  readonly clock?: Clock;
}

/**
 * A central on Web Bluetooth. The browser's device chooser stands in for scanning: `scan` yields
 * the one device the user picks (or none) and needs a user gesture, as `requestDevice` does.
 * Advertisement details other than the name are not exposed to the page, and neither is the MTU.
 */
export function createWebBluetoothCentral(options: WebBluetoothCentralOptions = {}): WebBluetoothCentral {
  const bluetooth =
    options.bluetooth ?? (globalThis as { navigator?: { bluetooth?: BluetoothLike } }).navigator?.bluetooth;
  if (!bluetooth) {
    throw new AdapterUnavailableError(
      "Web Bluetooth",
      "navigator.bluetooth is missing: use a Chromium-based browser, over https or localhost",
    );
  }
  return new WebBluetoothCentral(bluetooth, options.clock ?? systemClock);
}

export function requestOptions(options: ScanOptions): WebBluetoothRequestOptions {
  const optionalServices = [...(options.optionalServices ?? [])].map(canonicalUuid);
  const filters = options.filters ?? [];
  if (filters.length === 0) return { acceptAllDevices: true, optionalServices };
  return {
    filters: filters.map((f: ScanFilter) => ({
      ...(f.services && { services: f.services.map(canonicalUuid) }),
      ...(f.namePrefix !== undefined && { namePrefix: f.namePrefix }),
      ...(f.manufacturerData && {
        manufacturerData: [
          {
            companyIdentifier: f.manufacturerData.companyId,
            ...(f.manufacturerData.dataPrefix && { dataPrefix: f.manufacturerData.dataPrefix }),
          },
        ],
      }),
    })),
    optionalServices,
  };
}

export class WebBluetoothCentral implements Central {
  readonly #devices = new Map<string, BluetoothDeviceLike>();

  constructor(
    private readonly bluetooth: BluetoothLike,
    private readonly clock: Clock,
  ) {}

  scan(options: ScanOptions): AsyncIterable<Advertisement> {
    let cancelTimer = () => {};
    const onAbort = () => queue.fail(new AbortedError({ cause: options.signal?.reason }));
    const queue = new AsyncQueue<Advertisement>(() => {
      cancelTimer();
      options.signal?.removeEventListener("abort", onAbort);
    });
    if (options.signal?.aborted) {
      onAbort();
      return queue;
    }
    options.signal?.addEventListener("abort", onAbort, { once: true });
    // The chooser cannot be closed from the page: past the timeout its answer is ignored.
    cancelTimer = this.clock.setTimeout(() => queue.end(), options.timeoutMs);
    this.bluetooth.requestDevice(requestOptions(options)).then(
      (device) => {
        this.#devices.set(device.id, device);
        queue.push({
          peripheralId: device.id,
          data: { serviceUuids: [], ...(device.name && { localName: device.name }) },
        });
        queue.end();
      },
      (error) => {
        // NotFoundError: the user closed the chooser or no device matched — an empty scan.
        if (isDomError(error, "NotFoundError")) queue.end();
        else queue.fail(browserError("requestDevice", error));
      },
    );
    return queue;
  }

  async connect(peripheralId: string, options: ConnectOptions): Promise<GattClient> {
    const device = this.#devices.get(peripheralId);
    const gatt = device?.gatt;
    if (!device || !gatt) {
      throw new TransportError("UNKNOWN_PERIPHERAL", `device ${peripheralId} was not chosen in this page`);
    }
    const server = await withDeadline(
      gatt.connect().catch((error) => {
        throw browserError("connect", error);
      }),
      {
        clock: this.clock,
        timeoutMs: options.timeoutMs,
        what: `connect to ${peripheralId}`,
        signal: options.signal,
        onGiveUp: () => gatt.disconnect(),
      },
    );
    return new WebBluetoothGattClient(device, server);
  }
}

class WebBluetoothGattClient implements GattClient {
  readonly #disconnects = new Listeners<[unknown]>();
  readonly #characteristics = new Map<string, BluetoothCharacteristicLike>();
  #connected = true;
  readonly mtu = undefined;

  constructor(
    private readonly device: BluetoothDeviceLike,
    private readonly server: BluetoothRemoteGattServerLike,
  ) {
    const onGone = () => {
      device.removeEventListener("gattserverdisconnected", onGone);
      this.#connected = false;
      this.#disconnects.emit(disconnectedError());
      this.#disconnects.clear();
    };
    device.addEventListener("gattserverdisconnected", onGone);
  }

  get peripheralId(): string {
    return this.device.id;
  }

  get connected(): boolean {
    return this.#connected && this.server.connected;
  }

  async discoverServices(options?: OperationOptions): Promise<readonly ServiceInfo[]> {
    if (!this.connected) throw notConnectedError();
    const discover = async () => {
      // Web Bluetooth reports "none found" as NotFoundError rather than an empty list.
      const services = await orNone(this.server.getPrimaryServices());
      const out: ServiceInfo[] = [];
      for (const service of services) {
        const uuid = canonicalUuid(service.uuid);
        const characteristics = await orNone(service.getCharacteristics());
        for (const c of characteristics) this.#characteristics.set(`${uuid}/${canonicalUuid(c.uuid)}`, c);
        out.push({
          uuid,
          characteristics: characteristics.map((c) => ({
            uuid: canonicalUuid(c.uuid),
            properties: properties(c),
          })),
        });
      }
      return out;
    };
    return abortable(
      discover().catch((error) => {
        throw browserError("discovery", error);
      }),
      options?.signal,
    );
  }

  async write(service: string, characteristic: string, value: Uint8Array, options?: OperationOptions) {
    const c = this.#characteristic(service, characteristic);
    await abortable(
      c.writeValueWithResponse(value.slice()).catch((error) => {
        throw browserError("write", error, "WRITE_REJECTED");
      }),
      options?.signal,
    );
  }

  async subscribe(
    service: string,
    characteristic: string,
    listener: (value: Uint8Array) => void,
    options?: OperationOptions,
  ): Promise<Subscription> {
    const c = this.#characteristic(service, characteristic);
    const onValue = () => {
      const view = c.value;
      if (view)
        listener(new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength)));
    };
    c.addEventListener("characteristicvaluechanged", onValue);
    try {
      await abortable(c.startNotifications(), options?.signal);
    } catch (error) {
      c.removeEventListener("characteristicvaluechanged", onValue);
      throw error instanceof AbortedError
        ? error
        : browserError("startNotifications", error, "SUBSCRIBE_FAILED");
    }
    return {
      unsubscribe: async () => {
        c.removeEventListener("characteristicvaluechanged", onValue);
        if (this.connected) await c.stopNotifications();
      },
    };
  }

  onDisconnect(listener: (cause: unknown) => void): () => void {
    return this.#disconnects.add(listener);
  }

  async disconnect(): Promise<void> {
    this.server.disconnect();
  }

  #characteristic(service: string, characteristic: string): BluetoothCharacteristicLike {
    if (!this.connected) throw notConnectedError();
    if (this.#characteristics.size === 0)
      throw new GattError("NOT_DISCOVERED", "discover services before using them");
    const c = this.#characteristics.get(`${canonicalUuid(service)}/${canonicalUuid(characteristic)}`);
    if (!c) throw new GattError("CHARACTERISTIC_NOT_FOUND", `no characteristic ${characteristic}`);
    return c;
  }
}

function properties(c: BluetoothCharacteristicLike): CharacteristicProperty[] {
  const out: CharacteristicProperty[] = [];
  if (c.properties.read) out.push("read");
  if (c.properties.write) out.push("write");
  if (c.properties.notify || c.properties.indicate) out.push("notify");
  return out;
}

async function orNone<T>(request: Promise<T[]>): Promise<T[]> {
  try {
    return await request;
  } catch (error) {
    if (isDomError(error, "NotFoundError")) return [];
    throw error;
  }
}

function isDomError(error: unknown, name: string): boolean {
  return typeof error === "object" && error !== null && (error as { name?: unknown }).name === name;
}

/** Maps the browser's DOMExceptions to pairkit errors, keeping the original as the cause. */
function browserError(operation: string, error: unknown, gattCode = "GATT_FAILED"): PairkitError {
  if (error instanceof PairkitError) return error;
  const name =
    typeof error === "object" && error !== null ? String((error as { name?: unknown }).name) : "Error";
  if (name === "NetworkError")
    return new TransportError("DISCONNECTED", `${operation}: device disconnected`, { cause: error });
  if (name === "SecurityError") {
    return new PairkitError(
      "PERMISSION_DENIED",
      `${operation}: not allowed (user gesture, origin or blocklist)`,
      {
        cause: error,
      },
    );
  }
  if (name === "NotSupportedError") {
    return new AdapterUnavailableError("Web Bluetooth", `${operation} is not supported here`, {
      cause: error,
    });
  }
  return new GattError(gattCode, `${operation} failed (${name})`, { cause: error });
}
