import { type Clock, systemClock } from "@pairkit/core";
import type { FrameChannel } from "../frame-channel.ts";
import { withDeadline } from "./deadline.ts";
import { disconnectedError, GattError } from "./errors.ts";
import { Listeners } from "./listeners.ts";
import type { GattClient, GattServerConnection } from "./types.ts";
import {
  ACTIVE_CARD_MESSAGE_CHARACTERISTIC,
  ACTIVE_CARD_SERVICE,
  canonicalUuid,
  OWNER_COMMAND_CHARACTERISTIC,
  OWNER_PAIRING_SERVICE,
} from "./uuids.ts";

/** The characteristic that carries frames: written by the central, notified by the peripheral. */
export interface FramePipe {
  readonly service: string;
  readonly characteristic: string;
}

export const OWNER_PAIRING_PIPE: FramePipe = {
  service: OWNER_PAIRING_SERVICE,
  characteristic: OWNER_COMMAND_CHARACTERISTIC,
};

export const ACTIVE_CARD_PIPE: FramePipe = {
  service: ACTIVE_CARD_SERVICE,
  characteristic: ACTIVE_CARD_MESSAGE_CHARACTERISTIC,
};

/**
 * The central's FrameChannel: discovers the pipe, checks it can be written and notified, writes
 * its CCCD, then sends each frame as one Write Request and receives each notification as a frame.
 */
export async function openCentralFrameChannel(
  client: GattClient,
  pipe: FramePipe,
  options: { signal?: AbortSignal } = {},
): Promise<FrameChannel> {
  const service = canonicalUuid(pipe.service);
  const characteristic = canonicalUuid(pipe.characteristic);
  const services = await client.discoverServices(options);
  const found = services.find((s) => s.uuid === service);
  if (!found) throw new GattError("SERVICE_NOT_FOUND", `service ${service} not found`);
  const info = found.characteristics.find((c) => c.uuid === characteristic);
  if (!info) throw new GattError("CHARACTERISTIC_NOT_FOUND", `characteristic ${characteristic} not found`);
  if (!info.properties.includes("write") || !info.properties.includes("notify")) {
    throw new GattError(
      "CHARACTERISTIC_UNSUITABLE",
      `characteristic ${characteristic} lacks write or notify`,
    );
  }
  const channel = new GattFrameChannel(
    () => client.mtu,
    (frame, signal) => client.write(service, characteristic, frame, { signal }),
    () => client.disconnect(),
  );
  const stopClose = client.onDisconnect((cause) => channel.closed(cause));
  try {
    await client.subscribe(service, characteristic, (value) => channel.received(value), options);
  } catch (error) {
    stopClose();
    throw error;
  }
  if (!client.connected) channel.closed(disconnectedError());
  return channel;
}

/**
 * The peripheral's FrameChannel: frames in are Write Requests to the pipe, frames out are
 * notifications on it. Resolves once the central has subscribed (there is nobody to answer
 * before), or rejects with a `TimeoutError` / the disconnect.
 */
export async function openPeripheralFrameChannel(
  connection: GattServerConnection,
  pipe: FramePipe,
  options: { timeoutMs: number; clock?: Clock; signal?: AbortSignal },
): Promise<FrameChannel> {
  const service = canonicalUuid(pipe.service);
  const characteristic = canonicalUuid(pipe.characteristic);
  const channel = new GattFrameChannel(
    () => connection.mtu,
    async (frame) => {
      if (!connection.isSubscribed(service, characteristic)) {
        throw new GattError("NOT_SUBSCRIBED", "the central has not subscribed to the pipe");
      }
      await connection.notify(service, characteristic, frame);
    },
    () => connection.disconnect(),
  );
  // Registered before waiting, so a write racing the subscription is not lost.
  const stopWrites = connection.onWrite(service, characteristic, (value) => channel.received(value));
  const stopClose = connection.onDisconnect((cause) => channel.closed(cause));
  if (connection.isSubscribed(service, characteristic)) return channel;
  let stopSubscription = () => {};
  let stopDisconnect = () => {};
  const subscribed = new Promise<void>((resolve, reject) => {
    stopSubscription = connection.onSubscriptionChange((s, c, on) => {
      if (on && s === service && c === characteristic) resolve();
    });
    stopDisconnect = connection.onDisconnect((cause) => reject(disconnectedError(cause)));
    if (!connection.connected) reject(disconnectedError());
  });
  try {
    await withDeadline(subscribed, {
      clock: options.clock ?? systemClock,
      timeoutMs: options.timeoutMs,
      what: "central subscription",
      signal: options.signal,
    });
    return channel;
  } catch (error) {
    stopWrites();
    stopClose();
    throw error;
  } finally {
    stopSubscription();
    stopDisconnect();
  }
}

/** Frames are buffered until the first `onFrame` listener, so none is lost between open and use. */
class GattFrameChannel implements FrameChannel {
  readonly #frames = new Listeners<[Uint8Array]>();
  readonly #closes = new Listeners<[unknown]>();
  readonly #early: Uint8Array[] = [];
  #isClosed = false;
  #closeCause: unknown;

  constructor(
    private readonly getMtu: () => number | undefined,
    private readonly send: (frame: Uint8Array, signal: AbortSignal | undefined) => Promise<void>,
    private readonly disconnect: () => Promise<void>,
  ) {}

  get mtu(): number | undefined {
    return this.getMtu();
  }

  async sendFrame(frame: Uint8Array, options?: { signal?: AbortSignal }): Promise<void> {
    if (this.#isClosed) throw disconnectedError(this.#closeCause);
    await this.send(frame, options?.signal);
  }

  onFrame(listener: (frame: Uint8Array) => void): () => void {
    const remove = this.#frames.add(listener);
    for (const frame of this.#early.splice(0)) listener(frame);
    return remove;
  }

  onClose(listener: (cause?: unknown) => void): () => void {
    if (this.#isClosed) {
      queueMicrotask(() => listener(this.#closeCause));
      return () => {};
    }
    return this.#closes.add(listener);
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    await this.disconnect();
    this.closed(undefined);
  }

  received(frame: Uint8Array): void {
    if (this.#isClosed) return;
    if (this.#frames.size === 0) this.#early.push(frame);
    else this.#frames.emit(frame);
  }

  closed(cause: unknown): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#closeCause = cause;
    this.#early.length = 0;
    this.#closes.emit(cause);
    this.#closes.clear();
    this.#frames.clear();
  }
}
