import { AbortedError, type Clock, systemClock, TransportError } from "@pairkit/core";
import { matchesFilters } from "../gatt/advertisement.ts";
import { AsyncQueue } from "../gatt/async-queue.ts";
import { abortable, withDeadline } from "../gatt/deadline.ts";
import { AdapterUnavailableError, disconnectedError, GattError, notConnectedError } from "../gatt/errors.ts";
import { Listeners } from "../gatt/listeners.ts";
import type {
  Advertisement,
  AdvertisementData,
  Central,
  CharacteristicProperty,
  ConnectOptions,
  GattClient,
  OperationOptions,
  ScanOptions,
  ServiceInfo,
  Subscription,
} from "../gatt/types.ts";
import { canonicalUuid, compactUuid } from "../gatt/uuids.ts";

/*
 * The parts of @stoprocent/noble (2.x) this adapter uses, typed locally so that the library stays
 * an optional dependency: its Noble, Peripheral and Characteristic EventEmitters.
 */
export interface NobleLike {
  readonly state: string;
  waitForPoweredOnAsync(timeout?: number): Promise<void>;
  startScanningAsync(serviceUUIDs?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
  on(event: "discover", listener: (peripheral: NoblePeripheralLike) => void): unknown;
  removeListener(event: "discover", listener: (peripheral: NoblePeripheralLike) => void): unknown;
}

export interface NoblePeripheralLike {
  readonly id: string;
  readonly state: string;
  readonly mtu: number | null;
  readonly rssi: number;
  readonly advertisement: {
    localName?: string;
    serviceUuids?: string[];
    manufacturerData?: Uint8Array;
  };
  connectAsync(): Promise<void>;
  cancelConnect(): void;
  disconnectAsync(): Promise<void>;
  discoverAllServicesAndCharacteristicsAsync(): Promise<{
    services: { uuid: string }[];
    characteristics: NobleCharacteristicLike[];
  }>;
  once(event: "disconnect", listener: (reason: unknown) => void): unknown;
  removeListener(event: "disconnect", listener: (reason: unknown) => void): unknown;
}

export interface NobleCharacteristicLike {
  readonly uuid: string;
  /** Noble sets `_serviceUuid` on each characteristic; it is how discovery results map to services. */
  readonly _serviceUuid: string;
  readonly properties: string[];
  writeAsync(data: Uint8Array, withoutResponse: boolean): Promise<void>;
  subscribeAsync(): Promise<void>;
  unsubscribeAsync(): Promise<void>;
  on(event: "data", listener: (data: Uint8Array, isNotification: boolean) => void): unknown;
  removeListener(event: "data", listener: (data: Uint8Array, isNotification: boolean) => void): unknown;
}

export interface NobleCentralOptions {
  /** An instance to use instead of loading the library (tests, or a custom `withBindings(...)`). */
  readonly noble?: NobleLike;
  /** Which noble bindings to load: the default (HCI socket on Linux) or BlueZ over D-Bus. */
  readonly bindings?: "default" | "hci" | "dbus";
  readonly poweredOnTimeoutMs?: number;
  readonly clock?: Clock;
}

/** A central on @stoprocent/noble; fails with {@link AdapterUnavailableError} when the library or an adapter is missing. */
export async function createNobleCentral(options: NobleCentralOptions = {}): Promise<NobleCentral> {
  const noble = options.noble ?? (await loadNoble(options.bindings ?? "default"));
  const timeoutMs = options.poweredOnTimeoutMs ?? 5000;
  try {
    await noble.waitForPoweredOnAsync(timeoutMs);
  } catch (cause) {
    throw new AdapterUnavailableError("Bluetooth adapter", `not powered on (state ${noble.state})`, {
      cause,
    });
  }
  return new NobleCentral(noble, options.clock ?? systemClock);
}

async function loadNoble(bindings: "default" | "hci" | "dbus"): Promise<NobleLike> {
  let module: { default?: unknown; withBindings?: (type: "hci" | "dbus") => unknown };
  try {
    module = (await import("@stoprocent/noble")) as typeof module;
  } catch (cause) {
    throw new AdapterUnavailableError(
      "@stoprocent/noble",
      "install the optional dependency (npm install @stoprocent/noble) on a machine with a BLE adapter",
      { cause },
    );
  }
  const instance = bindings === "default" ? (module.default ?? module) : module.withBindings?.(bindings);
  return instance as NobleLike;
}

/** Noble puts the 16-bit company identifier, little-endian, in front of the manufacturer data. */
export function advertisementFromNoble(ad: NoblePeripheralLike["advertisement"]): AdvertisementData {
  const md = ad.manufacturerData;
  return {
    serviceUuids: (ad.serviceUuids ?? []).flatMap((u) => {
      try {
        return [canonicalUuid(u)];
      } catch {
        return [];
      }
    }),
    ...(ad.localName !== undefined && { localName: ad.localName }),
    ...(md &&
      md.length >= 2 && {
        manufacturerData: {
          companyId: (md[0] ?? 0) | ((md[1] ?? 0) << 8),
          data: new Uint8Array(md.subarray(2)),
        },
      }),
  };
}

export class NobleCentral implements Central {
  readonly #seen = new Map<string, NoblePeripheralLike>();

  constructor(
    private readonly noble: NobleLike,
    private readonly clock: Clock,
  ) {}

  scan(options: ScanOptions): AsyncIterable<Advertisement> {
    const reported = new Set<string>();
    const onDiscover = (peripheral: NoblePeripheralLike) => {
      this.#seen.set(peripheral.id, peripheral);
      const data = advertisementFromNoble(peripheral.advertisement);
      if (reported.has(peripheral.id) || !matchesFilters(data, options.filters)) return;
      reported.add(peripheral.id);
      queue.push({ peripheralId: peripheral.id, data, rssi: peripheral.rssi });
    };
    const onAbort = () => queue.fail(new AbortedError({ cause: options.signal?.reason }));
    let cancelTimer = () => {};
    const queue = new AsyncQueue<Advertisement>(() => {
      cancelTimer();
      options.signal?.removeEventListener("abort", onAbort);
      this.noble.removeListener("discover", onDiscover);
      this.noble.stopScanningAsync().catch(() => {});
    });
    if (options.signal?.aborted) {
      onAbort();
      return queue;
    }
    options.signal?.addEventListener("abort", onAbort, { once: true });
    cancelTimer = this.clock.setTimeout(() => queue.end(), options.timeoutMs);
    this.noble.on("discover", onDiscover);
    // Service filtering in the controller only when every filter names services; the rest is ours.
    const filters = options.filters ?? [];
    const services = filters.every((f) => f.services?.length) ? filters.flatMap((f) => f.services ?? []) : [];
    this.noble
      .startScanningAsync(services.map(compactUuid), false)
      .catch((cause) =>
        queue.fail(new TransportError("SCAN_FAILED", "noble could not start scanning", { cause })),
      );
    return queue;
  }

  async connect(peripheralId: string, options: ConnectOptions): Promise<GattClient> {
    const peripheral = this.#seen.get(peripheralId);
    if (!peripheral)
      throw new TransportError("UNKNOWN_PERIPHERAL", `peripheral ${peripheralId} was not seen by a scan`);
    const connecting = peripheral.connectAsync().catch((cause) => {
      throw new TransportError("CONNECT_FAILED", "noble could not connect", { cause });
    });
    await withDeadline(connecting, {
      clock: this.clock,
      timeoutMs: options.timeoutMs,
      what: `connect to ${peripheralId}`,
      signal: options.signal,
      onGiveUp: () => peripheral.cancelConnect(),
    });
    return new NobleGattClient(peripheral);
  }
}

class NobleGattClient implements GattClient {
  readonly #disconnects = new Listeners<[unknown]>();
  readonly #characteristics = new Map<string, NobleCharacteristicLike>();
  #connected = true;

  constructor(private readonly peripheral: NoblePeripheralLike) {
    peripheral.once("disconnect", (reason) => {
      this.#connected = false;
      this.#disconnects.emit(disconnectedError(reason));
      this.#disconnects.clear();
    });
  }

  get peripheralId(): string {
    return this.peripheral.id;
  }

  /** Noble exchanges the MTU itself right after connecting; `null` until it has. */
  get mtu(): number | undefined {
    return this.peripheral.mtu ?? undefined;
  }

  get connected(): boolean {
    return this.#connected;
  }

  async discoverServices(options?: OperationOptions): Promise<readonly ServiceInfo[]> {
    if (!this.#connected) throw notConnectedError();
    const { services, characteristics } = await abortable(
      this.peripheral.discoverAllServicesAndCharacteristicsAsync(),
      options?.signal,
    );
    this.#characteristics.clear();
    const byService = new Map<string, { uuid: string; properties: CharacteristicProperty[] }[]>();
    for (const s of services) byService.set(canonicalUuid(s.uuid), []);
    for (const c of characteristics) {
      const service = canonicalUuid(c._serviceUuid);
      const uuid = canonicalUuid(c.uuid);
      this.#characteristics.set(`${service}/${uuid}`, c);
      byService.get(service)?.push({ uuid, properties: propertiesFromNoble(c.properties) });
    }
    return [...byService].map(([uuid, chars]) => ({ uuid, characteristics: chars }));
  }

  async write(service: string, characteristic: string, value: Uint8Array, options?: OperationOptions) {
    const c = this.#characteristic(service, characteristic);
    const mtu = this.mtu;
    // Noble would turn a long value into a prepared (long) write; frames must fit one ATT PDU instead.
    if (mtu !== undefined && value.length > mtu - 3) {
      throw new GattError("VALUE_TOO_LONG", `write of ${value.length} bytes exceeds ATT MTU − 3`, {
        attError: 0x0d,
      });
    }
    try {
      await abortable(c.writeAsync(Buffer.from(value), false), options?.signal);
    } catch (cause) {
      if (cause instanceof AbortedError) throw cause;
      throw new GattError("WRITE_REJECTED", "the peripheral rejected the write", { cause });
    }
  }

  async subscribe(
    service: string,
    characteristic: string,
    listener: (value: Uint8Array) => void,
    options?: OperationOptions,
  ): Promise<Subscription> {
    const c = this.#characteristic(service, characteristic);
    const onData = (data: Uint8Array, isNotification: boolean) => {
      if (isNotification) listener(new Uint8Array(data));
    };
    c.on("data", onData);
    try {
      await abortable(c.subscribeAsync(), options?.signal);
    } catch (cause) {
      c.removeListener("data", onData);
      throw cause instanceof AbortedError
        ? cause
        : new GattError("SUBSCRIBE_FAILED", "CCCD write failed", { cause });
    }
    return {
      unsubscribe: async () => {
        c.removeListener("data", onData);
        if (this.#connected) await c.unsubscribeAsync();
      },
    };
  }

  onDisconnect(listener: (cause: unknown) => void): () => void {
    return this.#disconnects.add(listener);
  }

  async disconnect(): Promise<void> {
    if (this.#connected) await this.peripheral.disconnectAsync();
  }

  #characteristic(service: string, characteristic: string): NobleCharacteristicLike {
    if (!this.#connected) throw notConnectedError();
    if (this.#characteristics.size === 0)
      throw new GattError("NOT_DISCOVERED", "discover services before using them");
    const c = this.#characteristics.get(`${canonicalUuid(service)}/${canonicalUuid(characteristic)}`);
    if (!c) throw new GattError("CHARACTERISTIC_NOT_FOUND", `no characteristic ${characteristic}`);
    return c;
  }
}

function propertiesFromNoble(properties: readonly string[]): CharacteristicProperty[] {
  const out: CharacteristicProperty[] = [];
  if (properties.includes("read")) out.push("read");
  if (properties.includes("write")) out.push("write");
  if (properties.includes("notify") || properties.includes("indicate")) out.push("notify");
  return out;
}
