import { AttError, GattError } from "./errors.ts";
import { Listeners } from "./listeners.ts";
import type { GattServerConnection, WriteHandler } from "./types.ts";
import { canonicalUuid } from "./uuids.ts";

/** How a peripheral keys per-characteristic state: canonical service and characteristic UUIDs. */
export function characteristicKey(service: string, characteristic: string): string {
  return `${canonicalUuid(service)}/${canonicalUuid(characteristic)}`;
}

/**
 * What every peripheral-side connection does the same way, whatever the radio (simulated,
 * WebSocket, bleno): write handlers per characteristic run one after another, each write answered
 * with its handler's ATT result; listeners for subscription changes and for the disconnect.
 * A subclass supplies the radio: MTU, subscription state, notifications, disconnecting.
 */
export abstract class ServerConnectionBase implements GattServerConnection {
  abstract readonly centralId: string;
  abstract readonly mtu: number | undefined;
  abstract readonly connected: boolean;
  protected readonly disconnects = new Listeners<[unknown]>();
  protected readonly subscriptionChanges = new Listeners<[string, string, boolean]>();
  readonly #handlers = new Map<string, WriteHandler>();
  #writes: Promise<unknown> = Promise.resolve();

  abstract isSubscribed(service: string, characteristic: string): boolean;
  abstract notify(service: string, characteristic: string, value: Uint8Array): Promise<void>;
  abstract disconnect(): Promise<void>;

  onWrite(service: string, characteristic: string, handler: WriteHandler): () => void {
    const k = characteristicKey(service, characteristic);
    this.#handlers.set(k, handler);
    return () => {
      if (this.#handlers.get(k) === handler) this.#handlers.delete(k);
    };
  }

  onSubscriptionChange(
    listener: (service: string, characteristic: string, subscribed: boolean) => void,
  ): () => void {
    return this.subscriptionChanges.add(listener);
  }

  onDisconnect(listener: (cause: unknown) => void): () => void {
    return this.disconnects.add(listener);
  }

  /**
   * Runs the characteristic's write handler once the previous write's has finished and resolves to
   * the ATT result the Write Response carries: 0, a `GattError`'s `attError`, or Unlikely Error
   * for no handler or any other failure.
   */
  protected handleWrite(service: string, characteristic: string, value: Uint8Array): Promise<number> {
    const run = async () => {
      const handler = this.#handlers.get(characteristicKey(service, characteristic));
      if (!handler) return AttError.UNLIKELY_ERROR;
      try {
        await handler(value);
        return 0;
      } catch (error) {
        return error instanceof GattError && error.attError ? error.attError : AttError.UNLIKELY_ERROR;
      }
    };
    const result = this.#writes.then(run, run);
    this.#writes = result;
    return result;
  }

  /** Tells the disconnect listeners, once; later listeners are not kept. */
  protected endConnection(cause: unknown): void {
    this.disconnects.emit(cause);
    this.disconnects.clear();
  }
}
