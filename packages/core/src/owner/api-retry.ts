import { TransportError } from "../errors.ts";
import type { Clock } from "../ports/clock.ts";
import { ApiError } from "./errors.ts";

/** Replies worth retrying: the server, the KTS or the network between is down or busy. */
const TRANSIENT = new Set(["KTS_UNREACHABLE", "SERVER_BUSY", "RATE_LIMITED", "NOT_READY", "INTERNAL"]);

/** True when a call to the pairing server failed in a way a later try may not (no reply, busy). */
export function isTransientApiError(error: unknown): boolean {
  return error instanceof TransportError || (error instanceof ApiError && TRANSIENT.has(error.code));
}

/**
 * How long to wait before try `attempt + 1` (0-based): full jitter under an exponential ceiling,
 * never less than the server's `retryAfter`.
 */
export function backoffDelayMs(
  error: unknown,
  attempt: number,
  policy: { readonly initialDelayMs: number; readonly maxDelayMs: number; readonly random: () => number },
): number {
  const retryAfterMs =
    error instanceof ApiError && error.retryAfter !== undefined ? error.retryAfter * 1000 : 0;
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** attempt);
  return Math.max(retryAfterMs, Math.floor(policy.random() * ceiling));
}

/** Waits `ms` on `clock`; rejects with the signal's reason when it aborts first. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
