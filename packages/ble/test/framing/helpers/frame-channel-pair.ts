import { TransportError } from "@pairkit/core";
import type { FrameChannel } from "../../../src/frame-channel.ts";
import type { LinkRole } from "../../../src/index.ts";

export interface ChannelPairOptions {
  /** The ATT MTU the connection really has. */
  readonly mtu: number;
  /** Whether each side's platform reports the MTU (false: Web Bluetooth-like, `mtu` undefined). */
  readonly centralSeesMtu?: boolean;
  readonly peripheralSeesMtu?: boolean;
  /** The MTU the peripheral claims, when a test needs a platform that reports it wrongly. */
  readonly peripheralReportsMtu?: number;
  /** The air between the two: returns the frames that arrive for one sent (drop, replay, alter). */
  readonly wire?: (frame: Uint8Array, from: LinkRole) => Uint8Array[];
}

/**
 * Two FrameChannels joined like a real GATT connection: the central's frames are writes with
 * response (longer than MTU − 3: rejected), the peripheral's are notifications (longer than
 * MTU − 3: silently cut). Delivery is asynchronous and in order. Every frame put on the air is
 * recorded so tests can check what crossed it.
 */
export function createFrameChannelPair(options: ChannelPairOptions): {
  central: TestFrameChannel;
  peripheral: TestFrameChannel;
} {
  const central = new TestFrameChannel(
    "central",
    options.centralSeesMtu === false ? undefined : options.mtu,
    options,
  );
  const peripheral = new TestFrameChannel(
    "peripheral",
    options.peripheralSeesMtu === false ? undefined : (options.peripheralReportsMtu ?? options.mtu),
    options,
  );
  central.peer = peripheral;
  peripheral.peer = central;
  return { central, peripheral };
}

export class TestFrameChannel implements FrameChannel {
  peer: TestFrameChannel | undefined;
  /** Frames this side put on the air, after MTU enforcement. */
  readonly sent: Uint8Array[] = [];
  #closed = false;
  readonly #frameListeners = new Set<(frame: Uint8Array) => void>();
  readonly #closeListeners = new Set<(cause?: unknown) => void>();

  constructor(
    readonly role: LinkRole,
    readonly mtu: number | undefined,
    private readonly options: ChannelPairOptions,
  ) {}

  async sendFrame(frame: Uint8Array, options?: { signal?: AbortSignal }): Promise<void> {
    options?.signal?.throwIfAborted();
    if (this.#closed) throw new TransportError("NOT_CONNECTED", "channel closed");
    const limit = this.options.mtu - 3;
    let onAir = frame.slice();
    if (onAir.length > limit) {
      if (this.role === "central") {
        throw new TransportError(
          "WRITE_TOO_LONG",
          `write of ${onAir.length} bytes exceeds MTU − 3 = ${limit}`,
        );
      }
      onAir = onAir.subarray(0, limit);
    }
    this.sent.push(onAir);
    await Promise.resolve();
    const arriving = this.options.wire ? this.options.wire(onAir, this.role) : [onAir];
    for (const each of arriving) this.peer?.arrive(each);
  }

  onFrame(listener: (frame: Uint8Array) => void): () => void {
    this.#frameListeners.add(listener);
    return () => this.#frameListeners.delete(listener);
  }

  onClose(listener: (cause?: unknown) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.end("closed locally");
    this.peer?.end("closed by peer");
  }

  /** A frame reaches this side. */
  arrive(frame: Uint8Array): void {
    if (this.#closed) return;
    for (const listener of [...this.#frameListeners]) listener(frame.slice());
  }

  /** The connection ends for this side. */
  end(cause: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of [...this.#closeListeners]) listener(cause);
  }
}
