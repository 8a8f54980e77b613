import {
  AbortedError,
  type Clock,
  expectError,
  systemClock,
  TimeoutError,
  TransportError,
} from "@pairkit/core";
import type { Advertisement, Central, ConnectOptions, GattClient, ScanOptions } from "./types.ts";

/** Like Web Bluetooth's `requestDevice`: the first advertiser that matches, or a `TimeoutError` at the scan timeout. */
export async function findPeripheral(central: Central, options: ScanOptions): Promise<Advertisement> {
  for await (const advertisement of central.scan(options)) return advertisement;
  throw new TimeoutError("scan", options.timeoutMs);
}

export interface RetryOptions extends ConnectOptions {
  /** Connection attempts in all (the first included). */
  readonly attempts: number;
  /** Wait between attempts, doubled after each failure. */
  readonly backoffMs: number;
  readonly clock?: Clock;
}

/**
 * Connects, retrying transport failures and timeouts (a flaky first connect is common on real
 * stacks: BlueZ reports "le-connection-abort-by-local", Android GATT status 133). Aborts are not
 * retried. After a drop, call this again: the new connection needs discovery and subscription
 * again, which `openCentralFrameChannel` does.
 */
export async function connectWithRetry(
  central: Central,
  peripheralId: string,
  options: RetryOptions,
): Promise<GattClient> {
  const clock = options.clock ?? systemClock;
  let delay = options.backoffMs;
  let lastError: unknown;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    try {
      return await central.connect(peripheralId, options);
    } catch (error) {
      lastError = error instanceof TimeoutError ? error : expectError(error, TransportError);
      if (attempt === options.attempts) break;
      await sleep(clock, delay, options.signal);
      delay *= 2;
    }
  }
  throw new TransportError("CONNECT_FAILED", `no connection after ${options.attempts} attempts`, {
    cause: lastError,
  });
}

function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError({ cause: signal.reason }));
    const cancel = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      cancel();
      reject(new AbortedError({ cause: signal?.reason }));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
