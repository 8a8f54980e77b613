import { type Crypto, toHex, utf8 } from "@pairkit/core";
import type { Kysely, Transaction } from "kysely";
import type { Database } from "../db/schema.ts";

export const AUDIT_GENESIS_HASH = "0".repeat(64);

export interface AuditEvent {
  /** Who caused it: `user:<id>`, `agent:<id>`, `vehicle:<id>`, `system`. */
  readonly actor: string;
  /** Dotted event name, e.g. `pairing.password_issued`, `key.revoked`. */
  readonly event: string;
  readonly vehicleId?: string | null;
  readonly sessionId?: string | null;
  readonly keyId?: string | null;
  /** Non-secret facts only: never passwords, PINs, tokens or key material. */
  readonly detail?: Record<string, unknown>;
}

interface ChainedFields {
  readonly seq: number;
  readonly at: Date;
  readonly actor: string;
  readonly event: string;
  readonly vehicleId: string | null;
  readonly sessionId: string | null;
  readonly keyId: string | null;
  readonly detail: Record<string, unknown>;
}

/**
 * hash = SHA-256(prevHash ‖ canonical JSON of the entry). Canonical: keys sorted at every level,
 * so the value read back from jsonb (which reorders keys) hashes the same.
 */
export function auditEntryHash(crypto: Crypto, prevHash: string, entry: ChainedFields): string {
  const canonical = canonicalJson({
    seq: entry.seq,
    at: entry.at.toISOString(),
    actor: entry.actor,
    event: entry.event,
    vehicleId: entry.vehicleId,
    sessionId: entry.sessionId,
    keyId: entry.keyId,
    detail: entry.detail,
  });
  return toHex(crypto.sha256(utf8(`${prevHash}\n${canonical}`)));
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Appends one entry inside the caller's transaction, so the entry commits or rolls back with the
 * state change it records. The head row is locked for the rest of the transaction: appends from
 * all replicas are serialised and the chain never forks. Returns the entry's number (`seq`).
 */
export async function appendAudit(
  tx: Transaction<Database>,
  crypto: Crypto,
  event: AuditEvent,
  now: Date,
): Promise<number> {
  const head = await tx
    .selectFrom("auditHead")
    .select(["seq", "hash"])
    .where("id", "=", 1)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const entry: ChainedFields = {
    seq: head.seq + 1,
    at: now,
    actor: event.actor,
    event: event.event,
    vehicleId: event.vehicleId ?? null,
    sessionId: event.sessionId ?? null,
    keyId: event.keyId ?? null,
    detail: event.detail ?? {},
  };
  const hash = auditEntryHash(crypto, head.hash, entry);
  await tx
    .insertInto("auditLog")
    .values({ ...entry, detail: JSON.stringify(entry.detail), prevHash: head.hash, hash })
    .execute();
  await tx.updateTable("auditHead").set({ seq: entry.seq, hash }).where("id", "=", 1).execute();
  return entry.seq;
}

export type AuditVerification =
  | { readonly ok: true; readonly entries: number; readonly headHash: string }
  | { readonly ok: false; readonly entries: number; readonly brokenAt: number; readonly reason: string };

/** Walks the whole chain from the genesis hash; reports the first entry that does not fit. */
export async function verifyAuditChain(db: Kysely<Database>, crypto: Crypto): Promise<AuditVerification> {
  const head = await db
    .selectFrom("auditHead")
    .select(["seq", "hash"])
    .where("id", "=", 1)
    .executeTakeFirstOrThrow();
  let prevHash = AUDIT_GENESIS_HASH;
  let expectedSeq = 1;
  const pageSize = 1000;
  for (;;) {
    const rows = await db
      .selectFrom("auditLog")
      .selectAll()
      .where("seq", ">=", expectedSeq)
      .orderBy("seq")
      .limit(pageSize)
      .execute();
    for (const row of rows) {
      const fail = (reason: string): AuditVerification => ({
        ok: false,
        entries: expectedSeq - 1,
        brokenAt: row.seq,
        reason,
      });
      if (row.seq !== expectedSeq) return fail(`entry ${expectedSeq} is missing`);
      if (row.prevHash !== prevHash) return fail("prevHash does not match the previous entry");
      if (auditEntryHash(crypto, prevHash, row) !== row.hash)
        return fail("entry content does not match its hash");
      prevHash = row.hash;
      expectedSeq++;
    }
    if (rows.length < pageSize) break;
  }
  const entries = expectedSeq - 1;
  if (head.seq !== entries || head.hash !== prevHash) {
    return { ok: false, entries, brokenAt: entries + 1, reason: "chain head does not match the last entry" };
  }
  return { ok: true, entries, headHash: prevHash };
}
