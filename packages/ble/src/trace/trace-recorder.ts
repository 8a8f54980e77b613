import { toHex } from "@pairkit/core";
import { FRAME_HEADER_SIZE, type FrameHeader } from "../framing/frame-header.ts";
import type { Central, GattClient } from "../gatt/types.ts";
import { canonicalUuid } from "../gatt/uuids.ts";
import {
  FRAME_TRACE_FORMAT,
  FRAME_TRACE_VERSION,
  type FrameTrace,
  type TraceDirection,
  type TraceEvent,
} from "./trace-format.ts";

export interface FrameTraceRecorderOptions {
  /** What is recorded; kept in the trace. */
  readonly label?: string;
  /** A monotonic millisecond clock (default `performance.now`, in browsers and Node alike). */
  readonly now?: () => number;
}

/**
 * Records every frame a phone's radio sends and receives (docs/trace.md). It taps the GATT
 * level under the FramedLink — ATT writes out, notifications in — so it sees exactly what an
 * eavesdropper would: plaintext handshake messages, and sealed messages as ciphertext. Nothing
 * above the air (passwords, PINs, tokens, keys) can reach it.
 */
export class FrameTraceRecorder {
  readonly #label: string | undefined;
  readonly #now: () => number;
  readonly #start: number;
  readonly #startedAt = new Date().toISOString();
  readonly #events: TraceEvent[] = [];
  #links = 0;

  constructor(options: FrameTraceRecorderOptions = {}) {
    this.#label = options.label;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** The recording so far, as a trace document (a copy: recording goes on). */
  trace(): FrameTrace {
    return {
      format: FRAME_TRACE_FORMAT,
      version: FRAME_TRACE_VERSION,
      startedAt: this.#startedAt,
      ...(this.#label === undefined ? {} : { label: this.#label }),
      events: [...this.#events],
    };
  }

  /** A Central that behaves like `central` and records every connection it makes. */
  tapCentral(central: Central): Central {
    return {
      scan: (options) => central.scan(options),
      connect: async (peripheralId, options) =>
        this.#tapClient(await central.connect(peripheralId, options), peripheralId),
    };
  }

  #tapClient(client: GattClient, peer: string): GattClient {
    const link = ++this.#links;
    this.#events.push({ kind: "connect", t: this.#elapsed(), link, peer });
    let ended = false;
    const disconnected = () => {
      if (ended) return;
      ended = true;
      this.#events.push({ kind: "disconnect", t: this.#elapsed(), link });
    };
    client.onDisconnect(disconnected);
    return {
      peripheralId: client.peripheralId,
      get mtu() {
        return client.mtu;
      },
      get connected() {
        return client.connected;
      },
      discoverServices: (options) => client.discoverServices(options),
      // Recorded when handed to the radio, so a notification the write provokes comes after it.
      write: (service, characteristic, value, options) => {
        this.#frame(link, "central-to-peripheral", service, value);
        return client.write(service, characteristic, value, options);
      },
      subscribe: (service, characteristic, listener, options) =>
        client.subscribe(
          service,
          characteristic,
          (value) => {
            this.#frame(link, "peripheral-to-central", service, value);
            listener(value);
          },
          options,
        ),
      onDisconnect: (listener) => client.onDisconnect(listener),
      disconnect: async () => {
        await client.disconnect();
        disconnected();
      },
    };
  }

  #frame(link: number, direction: TraceDirection, service: string, frame: Uint8Array): void {
    const header: FrameHeader | null =
      frame.length < FRAME_HEADER_SIZE
        ? null
        : {
            version: frame[0]!,
            type: frame[1]!,
            seq: frame[2]!,
            totalSeq: frame[3]!,
            payloadLength: frame[4]!,
            flags: frame[5]!,
          };
    this.#events.push({
      kind: "frame",
      t: this.#elapsed(),
      link,
      direction,
      service: canonicalUuid(service),
      header,
      body: toHex(header ? frame.subarray(FRAME_HEADER_SIZE) : frame),
    });
  }

  /** Tenths of a millisecond are as fine as a BLE connection interval needs. */
  #elapsed(): number {
    return Math.round((this.#now() - this.#start) * 10) / 10;
  }
}
