import { AbortedError, encodeBase64, TimeoutError, TransportError } from "@pairkit/core";
import { AsyncQueue } from "../gatt/async-queue.ts";
import { abortable } from "../gatt/deadline.ts";
import { disconnectedError, GattError, notConnectedError } from "../gatt/errors.ts";
import { Listeners } from "../gatt/listeners.ts";
import { characteristicKey, ServerConnectionBase } from "../gatt/server-connection.ts";
import type {
  Advertisement,
  AdvertisementData,
  Central,
  ConnectOptions,
  GattClient,
  GattServerConnection,
  OperationOptions,
  Peripheral,
  ScanOptions,
  ServiceDefinition,
  ServiceInfo,
  Subscription,
} from "../gatt/types.ts";
import { canonicalUuid } from "../gatt/uuids.ts";
import { ATT_TIMEOUT_MS } from "../sim/sim-radio.ts";
import {
  decodeAdvertisement,
  decodeMessage,
  decodeServices,
  encodeAdvertisement,
  encodeFilters,
  encodeMessage,
  encodeServices,
  RADIO_PROTOCOL_VERSION,
  type WireFields,
  type WireObject,
} from "./wire.ts";

export interface RadioNodeOptions {
  readonly nodeId?: string;
  readonly mtu?: number;
}

/** Joins the WebSocket radio at `url` as a central (docs/radio.md). */
export async function openRadioCentral(url: string, options: RadioNodeOptions = {}): Promise<RadioCentral> {
  const socket = await RadioSocket.open(url);
  const { nodeId } = await hello(socket, "central", options);
  return new RadioCentral(socket, nodeId);
}

/** Joins the WebSocket radio at `url` as a peripheral (docs/radio.md). */
export async function openRadioPeripheral(
  url: string,
  options: RadioNodeOptions = {},
): Promise<RadioPeripheral> {
  const socket = await RadioSocket.open(url);
  const { nodeId } = await hello(socket, "peripheral", options);
  return new RadioPeripheral(socket, nodeId);
}

async function hello(socket: RadioSocket, role: string, options: RadioNodeOptions) {
  const result = await socket.request("hello", {
    version: RADIO_PROTOCOL_VERSION,
    role,
    ...(options.nodeId !== undefined && { nodeId: options.nodeId }),
    ...(options.mtu !== undefined && { mtu: options.mtu }),
  });
  return { nodeId: result.string("nodeId") };
}

/** The minimal WebSocket surface used, met by the browser's WebSocket and by the `ws` package. */
interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  addEventListener(type: "open" | "close" | "error", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
}

/** Requests with ids and their replies, plus the server's events by kind. */
class RadioSocket {
  #nextId = 1;
  readonly #pending = new Map<
    number,
    { resolve: (m: WireFields) => void; reject: (e: unknown) => void; kind: string; timeoutMs?: number }
  >();
  readonly events = new Listeners<[WireFields]>(() => this.close());
  readonly closes = new Listeners<[]>();
  #open = true;

  private constructor(private readonly socket: SocketLike) {
    socket.addEventListener("message", (event) => this.#receive(String(event.data)));
    socket.addEventListener("close", () => this.#closed());
  }

  static async open(url: string): Promise<RadioSocket> {
    const Ctor: new (url: string) => SocketLike =
      (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket ??
      (await import("ws")).WebSocket;
    const socket = new Ctor(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("error", () =>
        reject(new TransportError("RADIO_UNREACHABLE", `cannot reach the radio at ${url}`)),
      );
    });
    return new RadioSocket(socket);
  }

  get open(): boolean {
    return this.#open;
  }

  request(kind: string, fields: WireObject, timeoutMs?: number): Promise<WireFields> {
    if (!this.#open) return Promise.reject(new TransportError("RADIO_CLOSED", "radio connection closed"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, kind, timeoutMs });
      this.send(kind, { id, ...fields });
    });
  }

  send(kind: string, fields: WireObject): void {
    if (this.#open) this.socket.send(encodeMessage(kind, fields));
  }

  close(): void {
    this.socket.close();
    this.#closed();
  }

  /** A server that breaks docs/radio.md cannot be trusted with the rest of the session: close. */
  #receive(text: string): void {
    try {
      this.#dispatch(decodeMessage(text));
    } catch {
      this.close();
    }
  }

  #dispatch(message: WireFields): void {
    const kind = message.kind;
    if (kind !== "result" && kind !== "error") {
      this.events.emit(message);
      return;
    }
    if (!message.has("id")) return;
    const id = message.uint("id");
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    if (kind === "result") pending.resolve(message);
    else pending.reject(remoteError(message, pending.timeoutMs));
  }

  #closed(): void {
    if (!this.#open) return;
    this.#open = false;
    for (const pending of this.#pending.values()) {
      pending.reject(new TransportError("RADIO_CLOSED", "radio connection closed"));
    }
    this.#pending.clear();
    this.closes.emit();
  }
}

/** Rebuilds the typed error the server reported (docs/radio.md "Errors"). */
function remoteError(m: WireFields, timeoutMs: number | undefined): Error {
  const code = m.string("code");
  const message = m.string("message");
  if (code === "TIMEOUT") return new TimeoutError("radio operation", timeoutMs ?? ATT_TIMEOUT_MS);
  if (code === "ABORTED") return new AbortedError();
  if (["NOT_CONNECTED", "DISCONNECTED", "CONNECT_FAILED"].includes(code))
    return new TransportError(code, message);
  return new GattError(code, message, { attError: m.optionalUint("attError", 0xff) });
}

export class RadioCentral implements Central {
  #nextScan = 1;

  constructor(
    private readonly socket: RadioSocket,
    readonly id: string,
  ) {}

  scan(options: ScanOptions): AsyncIterable<Advertisement> {
    const scanId = this.#nextScan++;
    const onAbort = () => {
      this.socket.request("stopScan", { scanId }).catch(() => {});
      queue.fail(new AbortedError({ cause: options.signal?.reason }));
    };
    const stopEvents = this.socket.events.add((m) => {
      if (m.kind === "advertisement" && m.uint("scanId") === scanId) {
        queue.push({
          peripheralId: m.string("peripheralId"),
          data: decodeAdvertisement(m.object("data")),
          ...(m.has("rssi") && { rssi: Number(m.raw.rssi) }),
        });
      } else if (m.kind === "scanEnd" && m.uint("scanId") === scanId) queue.end();
    });
    const stopClose = this.socket.closes.add(() =>
      queue.fail(new TransportError("RADIO_CLOSED", "radio closed")),
    );
    const queue = new AsyncQueue<Advertisement>(() => {
      stopEvents();
      stopClose();
      options.signal?.removeEventListener("abort", onAbort);
    });
    if (options.signal?.aborted) {
      queue.fail(new AbortedError({ cause: options.signal.reason }));
      return queue;
    }
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.socket
      .request("scan", {
        scanId,
        filters: encodeFilters(options.filters ?? []),
        timeoutMs: options.timeoutMs,
      })
      .catch((error) => queue.fail(error));
    return queue;
  }

  async connect(peripheralId: string, options: ConnectOptions): Promise<GattClient> {
    const request = this.socket
      .request("connect", { peripheralId, timeoutMs: options.timeoutMs }, options.timeoutMs)
      .then((m) => new RadioGattClient(this.socket, peripheralId, m.uint("connectionId"), m.uint("mtu")));
    try {
      return await abortable(request, options.signal);
    } catch (error) {
      // The server may still complete a connect the caller gave up on: drop it then.
      if (error instanceof AbortedError) request.then((c) => c.disconnect()).catch(() => {});
      throw error;
    }
  }

  async close(): Promise<void> {
    this.socket.close();
  }
}

class RadioGattClient implements GattClient {
  readonly #disconnects = new Listeners<[unknown]>();
  readonly #notifications = new Map<string, (value: Uint8Array) => void>();
  #connected = true;

  constructor(
    private readonly socket: RadioSocket,
    readonly peripheralId: string,
    private readonly connectionId: number,
    readonly mtu: number,
  ) {
    const stopEvents = socket.events.add((m) => {
      if (!m.has("connectionId") || m.uint("connectionId") !== connectionId) return;
      if (m.kind === "notification") {
        const listener = this.#notifications.get(`${m.uuid("service")}/${m.uuid("characteristic")}`);
        const value = m.bytes("value");
        // A malformed event closes the radio (the server broke the protocol); a throwing listener must not.
        try {
          listener?.(value);
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
      } else if (m.kind === "disconnected") {
        end(new TransportError(m.string("code"), m.string("message")));
      }
    });
    const stopClose = socket.closes.add(() => end(new TransportError("RADIO_CLOSED", "radio closed")));
    const end = (cause: unknown) => {
      if (!this.#connected) return;
      this.#connected = false;
      stopEvents();
      stopClose();
      this.#notifications.clear();
      this.#disconnects.emit(disconnectedError(cause));
      this.#disconnects.clear();
    };
  }

  get connected(): boolean {
    return this.#connected && this.socket.open;
  }

  async discoverServices(options?: OperationOptions): Promise<readonly ServiceInfo[]> {
    const m = await this.#request("discover", {}, options);
    return decodeServices(m.list("services"));
  }

  async write(service: string, characteristic: string, value: Uint8Array, options?: OperationOptions) {
    await this.#request(
      "write",
      {
        service: canonicalUuid(service),
        characteristic: canonicalUuid(characteristic),
        value: encodeBase64(value),
      },
      options,
    );
  }

  async subscribe(
    service: string,
    characteristic: string,
    listener: (value: Uint8Array) => void,
    options?: OperationOptions,
  ): Promise<Subscription> {
    const fields = { service: canonicalUuid(service), characteristic: canonicalUuid(characteristic) };
    const k = `${fields.service}/${fields.characteristic}`;
    // Listening before the request: the server may forward a notification right behind its result.
    this.#notifications.set(k, listener);
    try {
      await this.#request("subscribe", fields, options);
    } catch (error) {
      this.#notifications.delete(k);
      throw error;
    }
    return {
      unsubscribe: async () => {
        if (this.#notifications.get(k) !== listener) return;
        this.#notifications.delete(k);
        if (this.connected) await this.#request("unsubscribe", fields);
      },
    };
  }

  onDisconnect(listener: (cause: unknown) => void): () => void {
    return this.#disconnects.add(listener);
  }

  async disconnect(): Promise<void> {
    if (this.connected) await this.#request("disconnect", {}).catch(() => {});
  }

  #request(kind: string, fields: WireObject, options?: OperationOptions) {
    if (!this.connected) return Promise.reject(notConnectedError());
    return abortable(
      this.socket.request(kind, { connectionId: this.connectionId, ...fields }),
      options?.signal,
    );
  }
}

export class RadioPeripheral implements Peripheral {
  readonly #connections = new Listeners<[GattServerConnection]>();

  constructor(
    private readonly socket: RadioSocket,
    readonly id: string,
  ) {
    socket.events.add((m) => {
      if (m.kind !== "connected") return;
      const connection = new RadioServerConnection(
        socket,
        m.uint("connectionId"),
        m.string("centralId"),
        m.uint("mtu"),
      );
      this.#connections.emit(connection);
    });
  }

  async setServices(services: readonly ServiceDefinition[]): Promise<void> {
    await this.socket.request("setServices", { services: encodeServices(services) });
  }

  async startAdvertising(data: AdvertisementData): Promise<void> {
    await this.socket.request("startAdvertising", { data: encodeAdvertisement(data) });
  }

  async stopAdvertising(): Promise<void> {
    await this.socket.request("stopAdvertising", {});
  }

  onConnection(listener: (connection: GattServerConnection) => void): () => void {
    return this.#connections.add(listener);
  }

  async close(): Promise<void> {
    this.socket.close();
  }
}

class RadioServerConnection extends ServerConnectionBase {
  readonly #subscribed = new Set<string>();
  #connected = true;

  constructor(
    private readonly socket: RadioSocket,
    private readonly connectionId: number,
    readonly centralId: string,
    readonly mtu: number,
  ) {
    super();
    const stopEvents = socket.events.add((m) => {
      if (!m.has("connectionId") || m.uint("connectionId") !== connectionId) return;
      if (m.kind === "writeRequest") this.#write(m);
      else if (m.kind === "subscription") {
        const [s, c, on] = [m.uuid("service"), m.uuid("characteristic"), m.bool("subscribed")];
        if (on) this.#subscribed.add(characteristicKey(s, c));
        else this.#subscribed.delete(characteristicKey(s, c));
        this.subscriptionChanges.emit(s, c, on);
      } else if (m.kind === "disconnected") end(new TransportError(m.string("code"), m.string("message")));
    });
    const stopClose = socket.closes.add(() => end(new TransportError("RADIO_CLOSED", "radio closed")));
    const end = (cause: unknown) => {
      if (!this.#connected) return;
      this.#connected = false;
      stopEvents();
      stopClose();
      this.#subscribed.clear();
      this.endConnection(disconnectedError(cause));
    };
  }

  get connected(): boolean {
    return this.#connected && this.socket.open;
  }

  isSubscribed(service: string, characteristic: string): boolean {
    return this.#subscribed.has(characteristicKey(service, characteristic));
  }

  async notify(service: string, characteristic: string, value: Uint8Array): Promise<void> {
    if (!this.connected) throw notConnectedError();
    await this.socket.request("notify", {
      connectionId: this.connectionId,
      service: canonicalUuid(service),
      characteristic: canonicalUuid(characteristic),
      value: encodeBase64(value),
    });
  }

  async disconnect(): Promise<void> {
    if (this.connected)
      await this.socket.request("disconnect", { connectionId: this.connectionId }).catch(() => {});
  }

  /** Writes are answered in arrival order, each after its handler finished. */
  #write(m: WireFields): void {
    const requestId = m.uint("requestId");
    void this.handleWrite(m.uuid("service"), m.uuid("characteristic"), m.bytes("value")).then((attError) =>
      this.socket.send("writeResponse", { requestId, ...(attError && { attError }) }),
    );
  }
}
