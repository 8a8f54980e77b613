/**
 * The GATT abstraction every radio implements: the in-process simulated radio, the WebSocket
 * radio, noble/bleno and Web Bluetooth. It follows how BLE works (and Web Bluetooth's shape):
 * a peripheral advertises and serves services; a central scans with filters, connects, exchanges
 * the ATT MTU, discovers services, writes with response and receives notifications after writing
 * the CCCD. UUIDs are canonical 128-bit lowercase dashed strings (see `canonicalUuid`).
 */

/** Manufacturer-specific advertising data (AD type 0xFF): a SIG company identifier and its payload. */
export interface ManufacturerData {
  readonly companyId: number;
  readonly data: Uint8Array;
}

export interface AdvertisementData {
  readonly serviceUuids: readonly string[];
  readonly localName?: string;
  readonly manufacturerData?: ManufacturerData;
}

/** One filter matches when every field it sets matches; a scan matches when any filter does (Web Bluetooth semantics). */
export interface ScanFilter {
  /** Every one of these must be advertised. */
  readonly services?: readonly string[];
  readonly namePrefix?: string;
  readonly manufacturerData?: { readonly companyId: number; readonly dataPrefix?: Uint8Array };
}

export interface ScanOptions {
  /** No filter, or an empty list, matches every advertiser. */
  readonly filters?: readonly ScanFilter[];
  /** The scan ends (the iterator completes) after this long. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Services the central will use without advertising them (Web Bluetooth needs them declared up front). */
  readonly optionalServices?: readonly string[];
}

export interface Advertisement {
  /** What `Central.connect` takes: an address, a platform id or a simulated node id. */
  readonly peripheralId: string;
  readonly data: AdvertisementData;
  readonly rssi?: number;
}

export interface ConnectOptions {
  /** Rejects with a `TimeoutError` when the connection (including the MTU exchange) takes longer. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface Central {
  /** Advertisements matching the filters, each peripheral once, until the timeout or abort (then `AbortedError`). */
  scan(options: ScanOptions): AsyncIterable<Advertisement>;
  /** Connects and exchanges the ATT MTU; the result has no services discovered yet. */
  connect(peripheralId: string, options: ConnectOptions): Promise<GattClient>;
}

export type CharacteristicProperty = "read" | "write" | "notify";

export interface CharacteristicInfo {
  readonly uuid: string;
  readonly properties: readonly CharacteristicProperty[];
}

export interface ServiceInfo {
  readonly uuid: string;
  readonly characteristics: readonly CharacteristicInfo[];
}

export interface OperationOptions {
  readonly signal?: AbortSignal;
}

/** A notification subscription: the CCCD is written; `unsubscribe` clears it. */
export interface Subscription {
  unsubscribe(): Promise<void>;
}

/** The central's end of one connection. A new connection needs discovery and subscription again. */
export interface GattClient {
  readonly peripheralId: string;
  /** The effective ATT MTU (min of both sides' MTUs), `undefined` where the platform hides it. */
  readonly mtu: number | undefined;
  readonly connected: boolean;
  /** Primary services and their characteristics; writes and subscriptions need it first. */
  discoverServices(options?: OperationOptions): Promise<readonly ServiceInfo[]>;
  /** ATT Write Request; resolves on the Write Response, rejects with a `GattError` on an ATT error. */
  write(
    service: string,
    characteristic: string,
    value: Uint8Array,
    options?: OperationOptions,
  ): Promise<void>;
  /** Writes the CCCD to enable notifications; `listener` sees each notification value in order. */
  subscribe(
    service: string,
    characteristic: string,
    listener: (value: Uint8Array) => void,
    options?: OperationOptions,
  ): Promise<Subscription>;
  /** Called once when the connection ends; returns an unsubscribe function. */
  onDisconnect(listener: (cause: unknown) => void): () => void;
  disconnect(): Promise<void>;
}

export interface CharacteristicDefinition {
  readonly uuid: string;
  readonly properties: readonly CharacteristicProperty[];
}

export interface ServiceDefinition {
  readonly uuid: string;
  readonly characteristics: readonly CharacteristicDefinition[];
}

/** A write the peripheral's handler rejects: the central receives this ATT error code. */
export type WriteHandler = (value: Uint8Array) => void | Promise<void>;

export interface Peripheral {
  readonly id: string;
  /** Replaces the GATT database; call before advertising. */
  setServices(services: readonly ServiceDefinition[]): Promise<void>;
  /** Advertises until stopped; a connected peripheral pauses advertising and resumes after the disconnect. */
  startAdvertising(data: AdvertisementData): Promise<void>;
  stopAdvertising(): Promise<void>;
  /** Each accepted connection; handlers registered synchronously in the listener see every write. */
  onConnection(listener: (connection: GattServerConnection) => void): () => void;
  /** Stops advertising, drops any connection and releases the radio. */
  close(): Promise<void>;
}

/** The peripheral's end of one connection. */
export interface GattServerConnection {
  readonly centralId: string;
  readonly mtu: number | undefined;
  readonly connected: boolean;
  /** Handles Write Requests to a characteristic; a thrown `GattError` with `attError` is returned to the central. */
  onWrite(service: string, characteristic: string, handler: WriteHandler): () => void;
  onSubscriptionChange(
    listener: (service: string, characteristic: string, subscribed: boolean) => void,
  ): () => void;
  isSubscribed(service: string, characteristic: string): boolean;
  /** Sends a Handle Value Notification; values longer than MTU − 3 are cut, as real stacks do. */
  notify(service: string, characteristic: string, value: Uint8Array): Promise<void>;
  onDisconnect(listener: (cause: unknown) => void): () => void;
  disconnect(): Promise<void>;
}
