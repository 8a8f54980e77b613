import { EventEmitter } from "node:events";

/*
 * Fakes of @stoprocent/noble's objects with the library's EventEmitter shapes and the behaviour
 * its bindings produce: `discover` events, connect/cancelConnect, discovery results with
 * `_serviceUuid`, `data` events (data, isNotification), `disconnect` with a reason. The test plays
 * the radio by driving them.
 */
export class FakeNoble extends EventEmitter {
  state = "poweredOn";
  scanning: { services: string[]; allowDuplicates: boolean } | undefined;

  async waitForPoweredOnAsync(): Promise<void> {
    if (this.state !== "poweredOn") throw new Error(`state ${this.state}`);
  }

  async startScanningAsync(services: string[] = [], allowDuplicates = false): Promise<void> {
    this.scanning = { services, allowDuplicates };
    this.emit("scanStart");
  }

  async stopScanningAsync(): Promise<void> {
    this.scanning = undefined;
    this.emit("scanStop");
  }
}

export class FakeNobleCharacteristic extends EventEmitter {
  readonly writes: { data: Buffer; withoutResponse: boolean }[] = [];
  subscribed = false;
  rejectWrites = false;

  constructor(
    readonly _serviceUuid: string,
    readonly uuid: string,
    readonly properties: string[],
  ) {
    super();
  }

  async writeAsync(data: Buffer, withoutResponse: boolean): Promise<void> {
    if (this.rejectWrites) throw new Error("ATT error 0x80");
    this.writes.push({ data, withoutResponse });
  }

  async subscribeAsync(): Promise<void> {
    this.subscribed = true;
  }

  async unsubscribeAsync(): Promise<void> {
    this.subscribed = false;
  }

  /** What noble does on a Handle Value Notification. */
  notifyFromPeripheral(value: Uint8Array): void {
    this.emit("data", Buffer.from(value), true);
  }
}

export class FakeNoblePeripheral extends EventEmitter {
  state = "disconnected";
  mtu: number | null = null;
  rssi = -55;
  cancelled = 0;
  connectBehaviour: "ok" | "hang" | "fail" = "ok";

  constructor(
    readonly id: string,
    readonly advertisement: { localName?: string; serviceUuids?: string[]; manufacturerData?: Buffer },
    readonly services: { uuid: string }[],
    readonly characteristics: FakeNobleCharacteristic[],
  ) {
    super();
  }

  connectAsync(): Promise<void> {
    if (this.connectBehaviour === "fail") return Promise.reject(new Error("connection failed 0x3e"));
    if (this.connectBehaviour === "hang") return new Promise(() => {});
    this.state = "connected";
    this.mtu = 185;
    this.emit("connect");
    return Promise.resolve();
  }

  cancelConnect(): void {
    this.cancelled++;
  }

  async disconnectAsync(): Promise<void> {
    this.dropped("local");
  }

  dropped(reason: unknown): void {
    this.state = "disconnected";
    this.emit("disconnect", reason);
  }

  async discoverAllServicesAndCharacteristicsAsync() {
    return { services: this.services, characteristics: this.characteristics };
  }
}
