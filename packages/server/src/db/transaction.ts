import { setTimeout as sleep } from "node:timers/promises";
import type { Transaction } from "kysely";
import { ApiError } from "../errors.ts";
import type { Db } from "./database.ts";
import type { Database } from "./schema.ts";

/** PostgreSQL aborted the transaction to break a lock cycle (40P01) or a serialization conflict (40001). */
export function isTransientConflict(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code } = error as { code?: unknown };
  return code === "40P01" || code === "40001";
}

/** Runs of one transaction before a conflict becomes SERVER_BUSY. */
const MAX_RUNS = 6;

/**
 * Runs `work` in one transaction and, when PostgreSQL aborts it for a deadlock or serialization
 * conflict, runs it again from the start: nothing of the aborted run was committed, so `work` must
 * only keep what it builds inside (ids, change sets) and do its side effects after commit. The lock
 * order of docs/operations.md keeps conflicts rare; this is the backstop. Jittered backoff spreads
 * the contenders apart; after MAX_RUNS the caller gets SERVER_BUSY (503 + Retry-After), never a 500.
 */
export async function runTransaction<T>(db: Db, work: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      if (!isTransientConflict(error)) throw error;
      if (run >= MAX_RUNS) {
        throw new ApiError("SERVER_BUSY", "the database is busy; retry", { retryAfter: 1, cause: error });
      }
      // Backoff jitter only needs to differ between contenders, not to be unpredictable.
      await sleep(Math.random() * 10 * 2 ** run);
    }
  }
}
