import { AbortedError, type Clock, systemClock, TransportError } from "@pairkit/core";
import { MIN_ATT_MTU } from "../framing/frame-size.ts";
import { matchesFilters } from "../gatt/advertisement.ts";
import { AsyncQueue } from "../gatt/async-queue.ts";
import { withDeadline } from "../gatt/deadline.ts";
import { Listeners } from "../gatt/listeners.ts";
import type {
  Advertisement,
  AdvertisementData,
  Central,
  ConnectOptions,
  GattClient,
  GattServerConnection,
  Peripheral,
  ScanOptions,
  ServiceDefinition,
} from "../gatt/types.ts";
import { canonicalUuid } from "../gatt/uuids.ts";
import type { FaultPlan } from "./faults.ts";
import { SimConnection } from "./sim-connection.ts";

export const DEFAULT_CONNECTION_INTERVAL_MS = 30;
/** Core Vol 3 Part F 3.3.3: an ATT request unanswered for 30 s ends the bearer. */
export const ATT_TIMEOUT_MS = 30_000;
export const DEFAULT_ATT_MTU = 247;
/** ATT_MTU cannot exceed 517: the longest attribute value (512) plus the 5-byte worst-case header. */
export const MAX_ATT_MTU = 517;

export interface SimRadioOptions {
  readonly clock?: Clock;
  /** One PDU per direction per connection event; every hop over the air takes this long. */
  readonly connectionIntervalMs?: number;
  readonly attTimeoutMs?: number;
  readonly faults?: FaultPlan;
}

export interface SimNodeOptions {
  readonly id?: string;
  /** The largest ATT MTU this side accepts; a connection uses the smaller of both sides' values. */
  readonly mtu?: number;
}

/**
 * The shared air of the simulated radio: peripherals advertise on it, centrals scan it and
 * connect through it. All timing runs on the injected clock, so tests drive it with a fake one.
 */
export class SimRadio {
  readonly clock: Clock;
  readonly connectionIntervalMs: number;
  readonly attTimeoutMs: number;
  /** Read at each event; tests may replace it between steps. */
  faults: FaultPlan;
  readonly #peripherals = new Map<string, SimPeripheral>();
  readonly #advertisers = new Listeners<[SimPeripheral]>();
  readonly #counts = { write: 0, notification: 0, pdu: 0 };
  #nextNode = 1;
  #nextConnection = 1;

  constructor(options: SimRadioOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.connectionIntervalMs = options.connectionIntervalMs ?? DEFAULT_CONNECTION_INTERVAL_MS;
    this.attTimeoutMs = options.attTimeoutMs ?? ATT_TIMEOUT_MS;
    this.faults = options.faults ?? {};
  }

  createCentral(options: SimNodeOptions = {}): SimCentral {
    return new SimCentral(this, options.id ?? `central-${this.#nextNode++}`, checkMtu(options.mtu));
  }

  createPeripheral(options: SimNodeOptions = {}): SimPeripheral {
    const id = options.id ?? `peripheral-${this.#nextNode++}`;
    if (this.#peripherals.has(id)) throw new TransportError("DUPLICATE_ID", `peripheral ${id} exists`);
    const peripheral = new SimPeripheral(this, id, checkMtu(options.mtu));
    this.#peripherals.set(id, peripheral);
    return peripheral;
  }

  hopMs(): number {
    return this.connectionIntervalMs + (this.faults.extraDelayMs ?? 0);
  }

  /** Counts one data PDU; true when it is the one `disconnectAtPdu` names (consuming that fault). */
  takePduFault(): boolean {
    this.#counts.pdu++;
    if (this.faults.disconnectAtPdu !== this.#counts.pdu) return false;
    this.faults = { ...this.faults, disconnectAtPdu: undefined };
    return true;
  }

  nextIndex(kind: "write" | "notification"): number {
    return ++this.#counts[kind];
  }

  /** Consumes one `failConnects`; true when this attempt must fail. */
  takeConnectFault(): boolean {
    const n = this.faults.failConnects ?? 0;
    if (n <= 0) return false;
    this.faults = { ...this.faults, failConnects: n - 1 };
    return true;
  }

  advertisingPeripherals(): SimPeripheral[] {
    return [...this.#peripherals.values()].filter((p) => p.advertising !== undefined);
  }

  peripheral(id: string): SimPeripheral | undefined {
    return this.#peripherals.get(id);
  }

  onAdvertiser(listener: (peripheral: SimPeripheral) => void): () => void {
    return this.#advertisers.add(listener);
  }

  announce(peripheral: SimPeripheral): void {
    this.#advertisers.emit(peripheral);
  }

  forget(peripheral: SimPeripheral): void {
    this.#peripherals.delete(peripheral.id);
  }

  newConnectionId(): number {
    return this.#nextConnection++;
  }
}

export class SimCentral implements Central {
  constructor(
    readonly radio: SimRadio,
    readonly id: string,
    readonly mtu: number,
  ) {}

  scan(options: ScanOptions): AsyncIterable<Advertisement> {
    const { clock } = this.radio;
    const seen = new Set<string>();
    const timers = new Set<() => void>();
    let stopListening = () => {};
    const onAbort = () => queue.fail(new AbortedError({ cause: options.signal?.reason }));
    const queue = new AsyncQueue<Advertisement>(() => {
      stopListening();
      for (const cancel of timers) cancel();
      options.signal?.removeEventListener("abort", onAbort);
    });
    // An advertiser is heard one advertising event (modelled as one hop) after it starts or the scan does.
    const hear = (peripheral: SimPeripheral) => {
      const cancel = clock.setTimeout(() => {
        timers.delete(cancel);
        const data = peripheral.advertising;
        if (!data || seen.has(peripheral.id) || !matchesFilters(data, options.filters)) return;
        seen.add(peripheral.id);
        queue.push({ peripheralId: peripheral.id, data, rssi: -60 });
      }, this.radio.hopMs());
      timers.add(cancel);
    };
    if (options.signal?.aborted) {
      onAbort();
      return queue;
    }
    options.signal?.addEventListener("abort", onAbort, { once: true });
    stopListening = this.radio.onAdvertiser(hear);
    timers.add(clock.setTimeout(() => queue.end(), options.timeoutMs));
    for (const peripheral of this.radio.advertisingPeripherals()) hear(peripheral);
    return queue;
  }

  /**
   * Like LE Create Connection: waits until the peripheral advertises, establishes the link one hop
   * later and exchanges the MTU one hop after that. A pending attempt is cancelled by the timeout.
   */
  connect(peripheralId: string, options: ConnectOptions): Promise<GattClient> {
    const { clock } = this.radio;
    let cancel = () => {};
    const work = new Promise<GattClient>((resolve, reject) => {
      let stopWaiting = () => {};
      let link: SimConnection | undefined;
      let cancelHop = () => {};
      cancel = () => {
        stopWaiting();
        cancelHop();
        link?.terminate("central", undefined);
      };
      const attempt = (peripheral: SimPeripheral) => {
        if (peripheral.id !== peripheralId || !peripheral.advertising) return;
        stopWaiting();
        if (this.radio.takeConnectFault()) {
          cancelHop = clock.setTimeout(
            () => reject(new TransportError("CONNECT_FAILED", "connection failed to be established (0x3e)")),
            this.radio.hopMs(),
          );
          return;
        }
        link = peripheral.accept(this);
        const established = link;
        cancelHop = clock.setTimeout(() => {
          cancelHop = clock.setTimeout(() => {
            if (!established.up) return reject(new TransportError("CONNECT_FAILED", "link lost"));
            peripheral.connected(established.server);
            resolve(established.client);
          }, this.radio.hopMs());
        }, this.radio.hopMs());
      };
      stopWaiting = this.radio.onAdvertiser(attempt);
      const now = this.radio.peripheral(peripheralId);
      if (now) attempt(now);
    });
    return withDeadline(work, {
      clock,
      timeoutMs: options.timeoutMs,
      what: `connect to ${peripheralId}`,
      signal: options.signal,
      onGiveUp: () => cancel(),
    });
  }
}

export class SimPeripheral implements Peripheral {
  #services: readonly ServiceDefinition[] = [];
  #advertising: AdvertisementData | undefined;
  #link: SimConnection | undefined;
  #closed = false;
  readonly #connections = new Listeners<[GattServerConnection]>();

  constructor(
    readonly radio: SimRadio,
    readonly id: string,
    readonly mtu: number,
  ) {}

  /** What a scanner hears now: nothing while connected (one connection at a time, like most peripherals). */
  get advertising(): AdvertisementData | undefined {
    return this.#link || this.#closed ? undefined : this.#advertising;
  }

  async setServices(services: readonly ServiceDefinition[]): Promise<void> {
    this.#services = services.map((s) => ({
      uuid: canonicalUuid(s.uuid),
      characteristics: s.characteristics.map((c) => ({
        uuid: canonicalUuid(c.uuid),
        properties: [...c.properties],
      })),
    }));
  }

  async startAdvertising(data: AdvertisementData): Promise<void> {
    if (this.#closed) throw new TransportError("CLOSED", "peripheral closed");
    this.#advertising = {
      ...data,
      serviceUuids: data.serviceUuids.map(canonicalUuid),
      manufacturerData: data.manufacturerData && {
        companyId: data.manufacturerData.companyId,
        data: data.manufacturerData.data.slice(),
      },
    };
    this.radio.announce(this);
  }

  async stopAdvertising(): Promise<void> {
    this.#advertising = undefined;
  }

  onConnection(listener: (connection: GattServerConnection) => void): () => void {
    return this.#connections.add(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#advertising = undefined;
    this.#link?.terminate("peripheral", undefined);
    this.radio.forget(this);
  }

  accept(central: SimCentral): SimConnection {
    const link = new SimConnection(
      this.radio,
      this.radio.newConnectionId(),
      Math.min(central.mtu, this.mtu),
      central.id,
      this.id,
      this.#services,
      () => {
        this.#link = undefined;
        if (this.advertising) this.radio.announce(this);
      },
    );
    this.#link = link;
    return link;
  }

  connected(connection: GattServerConnection): void {
    this.#connections.emit(connection);
  }
}

function checkMtu(mtu: number | undefined): number {
  const value = mtu ?? DEFAULT_ATT_MTU;
  if (!Number.isInteger(value) || value < MIN_ATT_MTU || value > MAX_ATT_MTU) {
    throw new TransportError(
      "INVALID_MTU",
      `ATT MTU must be an integer in [${MIN_ATT_MTU}, ${MAX_ATT_MTU}], got ${value}`,
    );
  }
  return value;
}
