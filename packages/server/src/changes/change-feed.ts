import type { Transaction } from "kysely";
import type { Db } from "../db/database.ts";
import type { Database } from "../db/schema.ts";
import { runTransaction } from "../db/transaction.ts";

/** What the admin console follows live (GET /admin/events). */
export type ChangeKind = "session" | "transaction" | "key" | "attestation" | "audit";

export interface Change {
  readonly kind: ChangeKind;
  /** sessionId, transactionId or keyId (keys and their attestation), or the audit entry's number. */
  readonly id: string;
}

/** The changes one database transaction makes; they are published only once it has committed. */
export class ChangeSet {
  readonly #changes: Change[] = [];

  add(kind: ChangeKind, id: string | number): void {
    this.#changes.push({ kind, id: String(id) });
  }

  get changes(): readonly Change[] {
    return this.#changes;
  }
}

export type ChangeListener = (change: Change) => void;

/**
 * In-process notifications of committed changes. A listener never sees a change that rolled back,
 * and a failing listener cannot fail the request that made the change. (Per process: a replica
 * hears only what it committed itself.)
 */
export class ChangeFeed {
  readonly #listeners = new Set<ChangeListener>();
  readonly #onListenerError: (err: unknown) => void;

  constructor(onListenerError: (err: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  publish(changes: readonly Change[]): void {
    for (const change of changes) {
      for (const listener of this.#listeners) {
        try {
          listener(change);
        } catch (err) {
          this.#onListenerError(err);
        }
      }
    }
  }

  /**
   * Runs `work` in one database transaction (re-run on a deadlock or serialization conflict, see
   * runTransaction) and publishes what the committed run recorded.
   */
  async commit<T>(db: Db, work: (tx: Transaction<Database>, changes: ChangeSet) => Promise<T>): Promise<T> {
    let set = new ChangeSet();
    const result = await runTransaction(db, (tx) => {
      set = new ChangeSet();
      return work(tx, set);
    });
    this.publish(set.changes);
    return result;
  }
}
