import { TimeoutError } from "@pairkit/core";
import { abortable } from "../gatt/deadline.ts";
import { AttError, disconnectedError, GattError, notConnectedError } from "../gatt/errors.ts";
import { Listeners } from "../gatt/listeners.ts";
import { characteristicKey, ServerConnectionBase } from "../gatt/server-connection.ts";
import type {
  GattClient,
  OperationOptions,
  ServiceDefinition,
  ServiceInfo,
  Subscription,
} from "../gatt/types.ts";
import { canonicalUuid } from "../gatt/uuids.ts";
import { Lane } from "./lane.ts";
import type { SimRadio } from "./sim-radio.ts";

/**
 * One established simulated connection. Every ATT exchange crosses the air through a {@link Lane}
 * per direction; requests are sequential (one outstanding ATT request per bearer, Core Vol 3 Part F
 * 3.3.2) and a request unanswered for the ATT timeout closes the bearer, as on real stacks.
 */
export class SimConnection {
  readonly toPeripheral: Lane;
  readonly toCentral: Lane;
  readonly client: SimGattClient;
  readonly server: SimServerConnection;
  #up = true;

  constructor(
    readonly radio: SimRadio,
    readonly id: number,
    readonly mtu: number,
    centralId: string,
    peripheralId: string,
    readonly services: readonly ServiceDefinition[],
    private readonly onEnd: () => void,
  ) {
    const hop = () => radio.hopMs();
    this.toPeripheral = new Lane(radio.clock, hop);
    this.toCentral = new Lane(radio.clock, hop);
    this.client = new SimGattClient(this, peripheralId);
    this.server = new SimServerConnection(this, centralId);
  }

  get up(): boolean {
    return this.#up;
  }

  /** Ends the link: the initiating side learns at once, the other one hop later (LL_TERMINATE_IND or supervision timeout). */
  terminate(initiator: "central" | "peripheral" | "air", cause: unknown): void {
    if (!this.#up) return;
    this.#up = false;
    this.toPeripheral.drop();
    this.toCentral.drop();
    this.onEnd();
    const error = disconnectedError(cause);
    const now = (end: "central" | "peripheral") =>
      (end === "central" ? this.client : this.server).ended(error);
    if (initiator === "air") {
      now("central");
      now("peripheral");
      return;
    }
    now(initiator);
    const other = initiator === "central" ? "peripheral" : "central";
    this.radio.clock.setTimeout(() => now(other), this.radio.hopMs());
  }

  /** Sends one data PDU over `lane`, applying the disconnect-at-k fault. */
  carry(lane: Lane, arrive: () => void): void {
    if (this.radio.takePduFault()) {
      lane.send(() => this.terminate("air", new TimeoutError("supervision", 0)));
      return;
    }
    lane.send(arrive);
  }
}

export class SimGattClient implements GattClient {
  readonly #disconnects = new Listeners<[unknown]>();
  readonly #notifications = new Map<string, (value: Uint8Array) => void>();
  readonly #waiting = new Set<(error: unknown) => void>();
  #discovered = false;
  #att: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly link: SimConnection,
    readonly peripheralId: string,
  ) {}

  get mtu(): number {
    return this.link.mtu;
  }

  get connected(): boolean {
    return this.link.up;
  }

  discoverServices(options?: OperationOptions): Promise<readonly ServiceInfo[]> {
    return this.#request(options, (respond) => {
      this.link.toPeripheral.send(() => {
        const services = this.link.services.map((s) => ({
          uuid: s.uuid,
          characteristics: s.characteristics.map((c) => ({ uuid: c.uuid, properties: [...c.properties] })),
        }));
        this.link.toCentral.send(() => {
          this.#discovered = true;
          respond(() => services);
        });
      });
    });
  }

  async write(service: string, characteristic: string, value: Uint8Array, options?: OperationOptions) {
    this.#checkUsable(service, characteristic, "write");
    if (value.length > this.link.mtu - 3) {
      throw new GattError("VALUE_TOO_LONG", `write of ${value.length} bytes exceeds ATT MTU − 3`, {
        attError: AttError.INVALID_ATTRIBUTE_VALUE_LENGTH,
      });
    }
    const sent = value.slice();
    await this.#request(options, (respond) => {
      const radio = this.link.radio;
      const mitm = radio.faults.mitm;
      const values = mitm
        ? (mitm({
            kind: "write",
            index: radio.nextIndex("write"),
            connectionId: this.link.id,
            service: canonicalUuid(service),
            characteristic: canonicalUuid(characteristic),
            value: sent.slice(),
          }) ?? [sent])
        : [sent];
      if (mitm) this.link.toCentral.send(() => respond(() => undefined));
      if (values.length === 0) return;
      values.forEach((v, i) => {
        this.link.carry(this.link.toPeripheral, async () => {
          const outcome = await this.link.server.written(service, characteristic, v.slice());
          if (!mitm && i === 0) this.link.toCentral.send(() => respond(outcome));
        });
      });
    });
  }

  async subscribe(
    service: string,
    characteristic: string,
    listener: (value: Uint8Array) => void,
    options?: OperationOptions,
  ): Promise<Subscription> {
    this.#checkUsable(service, characteristic, "notify");
    await this.#writeCccd(service, characteristic, true, options);
    const k = characteristicKey(service, characteristic);
    this.#notifications.set(k, listener);
    return {
      unsubscribe: async () => {
        if (this.#notifications.get(k) !== listener) return;
        this.#notifications.delete(k);
        if (this.link.up) await this.#writeCccd(service, characteristic, false);
      },
    };
  }

  onDisconnect(listener: (cause: unknown) => void): () => void {
    return this.#disconnects.add(listener);
  }

  async disconnect(): Promise<void> {
    this.link.terminate("central", undefined);
  }

  notified(service: string, characteristic: string, value: Uint8Array): void {
    this.#notifications.get(characteristicKey(service, characteristic))?.(value);
  }

  ended(error: unknown): void {
    for (const fail of [...this.#waiting]) fail(error);
    this.#notifications.clear();
    this.#disconnects.emit(error);
    this.#disconnects.clear();
  }

  #writeCccd(service: string, characteristic: string, on: boolean, options?: OperationOptions) {
    return this.#request(options, (respond) => {
      this.link.toPeripheral.send(() => {
        this.link.server.cccdWritten(service, characteristic, on);
        this.link.toCentral.send(() => respond(() => undefined));
      });
    });
  }

  #checkUsable(service: string, characteristic: string, property: "write" | "notify"): void {
    if (!this.link.up) throw notConnectedError();
    if (!this.#discovered) throw new GattError("NOT_DISCOVERED", "discover services before using them");
    const s = this.link.services.find((d) => d.uuid === canonicalUuid(service));
    const c = s?.characteristics.find((d) => d.uuid === canonicalUuid(characteristic));
    if (!c) throw new GattError("CHARACTERISTIC_NOT_FOUND", `no characteristic ${characteristic}`);
    if (!c.properties.includes(property)) {
      throw new GattError("NOT_PERMITTED", `characteristic does not allow ${property}`, {
        attError: AttError.WRITE_NOT_PERMITTED,
      });
    }
  }

  /**
   * One ATT request/response, queued behind the previous one. `start` gets `respond(result)`,
   * where `result` returns the value or throws the ATT error. Unanswered past the ATT timeout, the
   * request fails and the bearer closes.
   */
  #request<T>(options: OperationOptions | undefined, start: (respond: (result: () => T) => void) => void) {
    const run = () =>
      new Promise<T>((resolve, reject) => {
        if (!this.link.up) return reject(notConnectedError());
        const radio = this.link.radio;
        const fail = (error: unknown) => {
          cancelTimer();
          this.#waiting.delete(fail);
          reject(error);
        };
        this.#waiting.add(fail);
        const cancelTimer = radio.clock.setTimeout(() => {
          fail(new TimeoutError("ATT request", radio.attTimeoutMs));
          this.link.terminate("central", new TimeoutError("ATT request", radio.attTimeoutMs));
        }, radio.attTimeoutMs);
        start((result) => {
          if (!this.#waiting.has(fail)) return;
          cancelTimer();
          this.#waiting.delete(fail);
          try {
            resolve(result());
          } catch (error) {
            reject(error);
          }
        });
      });
    const queued = this.#att.then(run, run);
    this.#att = queued.catch(() => {});
    return abortable(queued, options?.signal);
  }
}

export class SimServerConnection extends ServerConnectionBase {
  readonly #subscribed = new Set<string>();

  constructor(
    private readonly link: SimConnection,
    readonly centralId: string,
  ) {
    super();
  }

  get mtu(): number {
    return this.link.mtu;
  }

  get connected(): boolean {
    return this.link.up;
  }

  isSubscribed(service: string, characteristic: string): boolean {
    return this.#subscribed.has(characteristicKey(service, characteristic));
  }

  async notify(service: string, characteristic: string, value: Uint8Array): Promise<void> {
    if (!this.link.up) throw notConnectedError();
    if (!this.isSubscribed(service, characteristic)) {
      throw new GattError("NOT_SUBSCRIBED", "the central has not enabled notifications");
    }
    // Real stacks cut an oversized notification to MTU − 3 without telling either side.
    const sent = value.slice(0, this.link.mtu - 3);
    const radio = this.link.radio;
    const values = radio.faults.mitm?.({
      kind: "notification",
      index: radio.nextIndex("notification"),
      connectionId: this.link.id,
      service: canonicalUuid(service),
      characteristic: canonicalUuid(characteristic),
      value: sent.slice(),
    }) ?? [sent];
    for (const v of values) {
      this.link.carry(this.link.toCentral, () =>
        this.link.client.notified(service, characteristic, v.slice()),
      );
    }
  }

  async disconnect(): Promise<void> {
    this.link.terminate("peripheral", undefined);
  }

  /** The outcome the Write Response carries back to the central, once the handler has run. */
  async written(service: string, characteristic: string, value: Uint8Array): Promise<() => void> {
    const attError = await this.handleWrite(service, characteristic, value);
    return attError === 0 ? () => undefined : () => rejectWrite(attError);
  }

  cccdWritten(service: string, characteristic: string, on: boolean): void {
    const k = characteristicKey(service, characteristic);
    if (on === this.#subscribed.has(k)) return;
    if (on) this.#subscribed.add(k);
    else this.#subscribed.delete(k);
    this.subscriptionChanges.emit(canonicalUuid(service), canonicalUuid(characteristic), on);
  }

  ended(error: unknown): void {
    this.#subscribed.clear();
    this.endConnection(error);
  }
}

function rejectWrite(attError: number): never {
  throw new GattError("WRITE_REJECTED", `peripheral answered ATT error 0x${attError.toString(16)}`, {
    attError,
  });
}
