/**
 * The port every protocol in `core` talks through: whole messages, in order, over some
 * transport (a BLE GATT connection with framing and chunking, the simulated radio, a test pipe).
 * Protocol code never sees frames, chunks, MTUs or characteristics.
 */
export interface LinkMessage {
  /** Message type: a frame type of docs/protocol.md (owner pairing) or the link's single type (Active Card). */
  readonly type: number;
  readonly payload: Uint8Array;
}

export interface ReceiveOptions {
  /** Milliseconds to wait for the next whole message; rejects with a `TimeoutError` past it. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface Link {
  /** Sends one message; resolves when the transport has accepted all of it (e.g. every write acknowledged). */
  send(message: LinkMessage, options?: { signal?: AbortSignal }): Promise<void>;
  /** The next whole message from the peer. Rejects with a typed error on timeout, disconnect or malformed input. */
  receive(options: ReceiveOptions): Promise<LinkMessage>;
  /**
   * Switches both directions to AES-256-GCM under `key` (owner pairing: Kenc after SPAKE2+),
   * starting with the next message sent and the next message received.
   */
  secure(key: Uint8Array): void;
  /** Closes the link; pending receives reject. Idempotent. */
  close(): Promise<void>;
  readonly closed: boolean;
}
