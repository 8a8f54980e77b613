import type { AddressInfo } from "node:net";
import { encodeBase64, PairkitError } from "@pairkit/core";
import { type WebSocket, WebSocketServer } from "ws";
import { GattError } from "../gatt/errors.ts";
import type { GattClient, GattServerConnection, ServiceDefinition, Subscription } from "../gatt/types.ts";
import { type SimCentral, type SimPeripheral, SimRadio, type SimRadioOptions } from "../sim/sim-radio.ts";
import {
  decodeAdvertisement,
  decodeFilters,
  decodeMessage,
  decodeServices,
  encodeAdvertisement,
  encodeMessage,
  encodeServices,
  RADIO_PROTOCOL_VERSION,
  RadioProtocolError,
  type WireFields,
  type WireObject,
} from "./wire.ts";

const MAX_MESSAGE_BYTES = 1 << 20;

export interface RadioServerOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** The air the server runs: an existing radio (tests inject faults there) or options for a new one. */
  readonly radio?: SimRadio | SimRadioOptions;
}

export interface RadioServer {
  readonly url: string;
  readonly radio: SimRadio;
  close(): Promise<void>;
}

/**
 * The WebSocket radio (docs/radio.md): one simulated air shared by every connected socket, each
 * socket one central or one peripheral. Timing, MTU and faults are the {@link SimRadio}'s.
 */
export async function startRadioServer(options: RadioServerOptions = {}): Promise<RadioServer> {
  const radio = options.radio instanceof SimRadio ? options.radio : new SimRadio(options.radio);
  const wss = new WebSocketServer({
    port: options.port ?? 0,
    host: options.host ?? "127.0.0.1",
    // A radio message carries at most one ATT value (≤ 512 bytes) or a GATT table: 1 MiB is ample.
    maxPayload: MAX_MESSAGE_BYTES,
  });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  // Once listening, the server errs only when an accept fails (libuv absorbs EMFILE itself; a
  // rarer errno still surfaces): that client is lost, the server keeps listening. Without a
  // listener the event would end the process.
  wss.on("error", () => {});
  wss.on("connection", (socket) => new NodeSession(socket, radio));
  const { port, address } = wss.address() as AddressInfo;
  return {
    url: `ws://${address.includes(":") ? `[${address}]` : address}:${port}`,
    radio,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

type Handler = (m: WireFields) => Promise<WireObject | undefined>;
/** Looked up by the client's `kind`: a Map, so no inherited name ("constructor", "__proto__") is a handler. */
type Handlers = ReadonlyMap<string, Handler>;
const NO_HANDLERS: Handlers = new Map();

/** One socket: a central or a peripheral on the shared air, from its `hello` to its close. */
class NodeSession {
  #central: SimCentral | undefined;
  #peripheral: SimPeripheral | undefined;
  #services: readonly ServiceDefinition[] = [];
  #nextConnection = 1;
  #nextWrite = 1;
  #gone = false;
  readonly #clients = new Map<number, GattClient>();
  readonly #servers = new Map<number, GattServerConnection>();
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #scans = new Map<number, AbortController>();
  readonly #writes = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();

  constructor(
    private readonly socket: WebSocket,
    private readonly radio: SimRadio,
  ) {
    socket.on("message", (data, isBinary) => {
      if (isBinary)
        return this.#send("error", { id: null, ...errorFields(new RadioProtocolError("binary message")) });
      this.#receive(data.toString());
    });
    socket.on("close", () => this.#closed());
    // A frame that breaks RFC 6455 (oversized, unmasked, RSV bit, bad opcode, invalid UTF-8):
    // ws has already sent the close code (1009/1002/1007) and ends the socket, which "close"
    // cleans up. The listener is what keeps the event from ending the whole process.
    socket.on("error", () => {});
  }

  #receive(text: string): void {
    let message: WireFields;
    let id: number;
    try {
      message = decodeMessage(text);
      if (message.kind === "writeResponse") {
        this.#writeAnswered(message);
        return;
      }
      id = message.uint("id");
    } catch (error) {
      this.#send("error", { id: null, ...errorFields(error) });
      return;
    }
    this.#dispatch(message).then(
      (result) => this.#send("result", { id, ...result }),
      (error) => this.#send("error", { id, ...errorFields(error) }),
    );
  }

  async #dispatch(m: WireFields): Promise<WireObject | undefined> {
    const kind = m.kind;
    if (kind === "hello") return this.#hello(m);
    const handlers = this.#central
      ? this.#centralHandlers
      : this.#peripheral
        ? this.#peripheralHandlers
        : NO_HANDLERS;
    const handler = handlers.get(kind);
    if (!handler) {
      throw new RadioProtocolError(
        this.#central || this.#peripheral ? `unknown request ${kind}` : "the first request must be hello",
      );
    }
    return handler(m);
  }

  async #hello(m: WireFields): Promise<WireObject> {
    if (this.#central || this.#peripheral) throw new RadioProtocolError("hello sent twice");
    const version = m.uint("version");
    if (version !== RADIO_PROTOCOL_VERSION) {
      throw new PairkitError("UNSUPPORTED_VERSION", `radio protocol ${version} not supported`);
    }
    const role = m.string("role");
    const node = { id: m.optionalString("nodeId"), mtu: m.optionalUint("mtu") };
    if (role === "central") {
      this.#central = this.radio.createCentral(node);
      return { nodeId: this.#central.id };
    }
    if (role !== "peripheral") throw new RadioProtocolError("role must be central or peripheral");
    const peripheral = this.radio.createPeripheral(node);
    this.#peripheral = peripheral;
    peripheral.onConnection((connection) => this.#accepted(connection));
    return { nodeId: peripheral.id };
  }

  readonly #centralHandlers: Handlers = handlerMap({
    scan: async (m) => {
      const scanId = m.uint("scanId");
      if (this.#scans.has(scanId)) throw new RadioProtocolError(`scan ${scanId} is running`);
      const controller = new AbortController();
      this.#scans.set(scanId, controller);
      const scan = this.#central!.scan({
        filters: m.has("filters") ? decodeFilters(m.list("filters")) : [],
        timeoutMs: m.uint("timeoutMs"),
        signal: controller.signal,
      });
      (async () => {
        try {
          for await (const a of scan) {
            this.#send("advertisement", {
              scanId,
              peripheralId: a.peripheralId,
              rssi: a.rssi ?? null,
              data: encodeAdvertisement(a.data),
            });
          }
        } catch {
          // An aborted scan ends like a finished one: the client asked for it.
        } finally {
          this.#scans.delete(scanId);
          this.#send("scanEnd", { scanId });
        }
      })();
      return undefined;
    },
    stopScan: async (m) => {
      this.#scans.get(m.uint("scanId"))?.abort();
      return undefined;
    },
    connect: async (m) => {
      const client = await this.#central!.connect(m.string("peripheralId"), {
        timeoutMs: m.uint("timeoutMs"),
      });
      if (this.#gone) {
        // The socket closed while connecting: nobody would ever release this connection.
        await client.disconnect();
        throw new GattError("NOT_CONNECTED", "the central left");
      }
      const connectionId = this.#nextConnection++;
      this.#clients.set(connectionId, client);
      client.onDisconnect((cause) => {
        this.#clients.delete(connectionId);
        this.#send("disconnected", { connectionId, ...errorFields(cause) });
      });
      return { connectionId, mtu: client.mtu };
    },
    discover: async (m) => ({ services: encodeServices(await this.#client(m).discoverServices()) }),
    write: async (m) => {
      await this.#client(m).write(m.uuid("service"), m.uuid("characteristic"), m.bytes("value"));
      return undefined;
    },
    subscribe: async (m) => {
      const connectionId = m.uint("connectionId");
      const [service, characteristic] = [m.uuid("service"), m.uuid("characteristic")];
      const subscription = await this.#client(m).subscribe(service, characteristic, (value) =>
        this.#send("notification", { connectionId, service, characteristic, value: encodeBase64(value) }),
      );
      this.#subscriptions.set(`${connectionId}/${service}/${characteristic}`, subscription);
      return undefined;
    },
    unsubscribe: async (m) => {
      const k = `${m.uint("connectionId")}/${m.uuid("service")}/${m.uuid("characteristic")}`;
      await this.#subscriptions.get(k)?.unsubscribe();
      this.#subscriptions.delete(k);
      return undefined;
    },
    disconnect: async (m) => {
      await this.#client(m).disconnect();
      return undefined;
    },
  });

  readonly #peripheralHandlers: Handlers = handlerMap({
    setServices: async (m) => {
      this.#services = decodeServices(m.list("services"));
      await this.#peripheral!.setServices(this.#services);
      return undefined;
    },
    startAdvertising: async (m) => {
      await this.#peripheral!.startAdvertising(decodeAdvertisement(m.object("data")));
      return undefined;
    },
    stopAdvertising: async () => {
      await this.#peripheral!.stopAdvertising();
      return undefined;
    },
    notify: async (m) => {
      await this.#server(m).notify(m.uuid("service"), m.uuid("characteristic"), m.bytes("value"));
      return undefined;
    },
    disconnect: async (m) => {
      await this.#server(m).disconnect();
      return undefined;
    },
  });

  #accepted(connection: GattServerConnection): void {
    const connectionId = this.#nextConnection++;
    this.#servers.set(connectionId, connection);
    for (const service of this.#services) {
      for (const c of service.characteristics) {
        if (!c.properties.includes("write")) continue;
        connection.onWrite(service.uuid, c.uuid, (value) =>
          this.#forwardWrite(connectionId, service.uuid, c.uuid, value),
        );
      }
    }
    connection.onSubscriptionChange((service, characteristic, subscribed) =>
      this.#send("subscription", { connectionId, service, characteristic, subscribed }),
    );
    connection.onDisconnect((cause) => {
      this.#servers.delete(connectionId);
      this.#send("disconnected", { connectionId, ...errorFields(cause) });
    });
    this.#send("connected", { connectionId, centralId: connection.centralId, mtu: connection.mtu });
  }

  #forwardWrite(connectionId: number, service: string, characteristic: string, value: Uint8Array) {
    const requestId = this.#nextWrite++;
    return new Promise<void>((resolve, reject) => {
      this.#writes.set(requestId, { resolve, reject });
      this.#send("writeRequest", {
        connectionId,
        requestId,
        service,
        characteristic,
        value: encodeBase64(value),
      });
    });
  }

  #writeAnswered(m: WireFields): void {
    const requestId = m.uint("requestId");
    const pending = this.#writes.get(requestId);
    if (!pending) throw new RadioProtocolError(`no write request ${requestId} is pending`);
    this.#writes.delete(requestId);
    const attError = m.optionalUint("attError", 0xff);
    if (attError === undefined || attError === 0) pending.resolve();
    else pending.reject(new GattError("WRITE_REJECTED", "rejected by the remote peripheral", { attError }));
  }

  #client(m: WireFields): GattClient {
    const client = this.#clients.get(m.uint("connectionId"));
    if (!client) throw new GattError("NOT_CONNECTED", "no such connection");
    return client;
  }

  #server(m: WireFields): GattServerConnection {
    const server = this.#servers.get(m.uint("connectionId"));
    if (!server) throw new GattError("NOT_CONNECTED", "no such connection");
    return server;
  }

  #send(kind: string, fields: WireObject): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(encodeMessage(kind, fields));
  }

  #closed(): void {
    this.#gone = true;
    for (const scan of this.#scans.values()) scan.abort();
    for (const client of this.#clients.values()) client.disconnect();
    for (const pending of this.#writes.values())
      pending.reject(new GattError("NOT_CONNECTED", "peripheral left"));
    this.#writes.clear();
    this.#peripheral?.close();
  }
}

function handlerMap(handlers: Record<string, Handler>): Handlers {
  return new Map(Object.entries(handlers));
}

function errorFields(error: unknown): WireObject {
  if (error instanceof GattError) {
    return { code: error.code, message: error.message, ...(error.attError && { attError: error.attError }) };
  }
  if (error instanceof PairkitError) return { code: error.code, message: error.message };
  return { code: error === undefined ? "DISCONNECTED" : "INTERNAL", message: "internal error" };
}
