/**
 * One BLE GATT pipe as the framing layer sees it: whole frames, each carried by exactly one ATT
 * operation — a write with response (central → peripheral) or a notification (peripheral →
 * central). Implemented over the simulated radio, the WebSocket radio and the real adapters;
 * consumed by the framing layer, which turns it into a `Link` of whole messages.
 */
export interface FrameChannel {
  /**
   * The negotiated ATT MTU when the platform can tell; `undefined` when it cannot (Web Bluetooth).
   * A frame longer than `mtu − 3` does not fit one ATT operation: real stacks reject such a
   * write and silently cut such a notification.
   */
  readonly mtu: number | undefined;
  /** Sends one frame as one ATT operation; resolves when acknowledged (write) or queued (notification). */
  sendFrame(frame: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>;
  /** Subscribes to incoming frames, in arrival order; returns an unsubscribe function. */
  onFrame(listener: (frame: Uint8Array) => void): () => void;
  /** Called once when the connection ends, for whatever reason. Returns an unsubscribe function. */
  onClose(listener: (cause?: unknown) => void): () => void;
  /** Disconnects. Idempotent. */
  close(): Promise<void>;
}
