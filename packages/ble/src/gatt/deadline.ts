import { AbortedError, type Clock, TimeoutError } from "@pairkit/core";

/**
 * Races `work` against a timeout on `clock` and an AbortSignal. `onGiveUp` runs when the timeout or
 * the abort wins, so the caller can release what `work` holds (cancel a connect, stop a scan).
 */
export function withDeadline<T>(
  work: Promise<T>,
  options: { clock: Clock; timeoutMs: number; what: string; signal?: AbortSignal; onGiveUp?: () => void },
): Promise<T> {
  const { clock, timeoutMs, what, signal, onGiveUp } = options;
  if (signal?.aborted) {
    onGiveUp?.();
    work.catch(() => {});
    return Promise.reject(new AbortedError({ cause: signal.reason }));
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      cancelTimer();
      signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const giveUp = (error: unknown) =>
      settle(() => {
        onGiveUp?.();
        reject(error);
      });
    const cancelTimer = clock.setTimeout(() => giveUp(new TimeoutError(what, timeoutMs)), timeoutMs);
    const onAbort = () => giveUp(new AbortedError({ cause: signal?.reason }));
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => settle(() => resolve(value)),
      (error) => settle(() => reject(error)),
    );
  });
}

/** Rejects as soon as `signal` aborts; otherwise follows `work`. */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(new AbortedError({ cause: signal.reason }));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError({ cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
