import type { Transaction } from "kysely";
import { appendAudit } from "../audit/audit-log.ts";
import type { ChangeSet } from "../changes/change-feed.ts";
import { isUniqueViolation } from "../db/errors.ts";
import type { Database } from "../db/schema.ts";
import type { Services } from "../services.ts";
import type { EventMessage } from "../vehicle-link/messages.ts";

/** The audit log's unique index on `detail->>'eventId'` (migration 0002). */
const EVENT_ID_INDEX = "audit_log_event_id";

/**
 * Applies one vehicle event. Every replica hears every event; its audit entry carries the eventId
 * under a unique index, so each event changes state and is audited once: a replica that loses the
 * race rolls its whole transaction back. Locks follow the one order (rows first, the audit head
 * last). The vehicle id comes from the topic (the broker's ACL vouches for it): a vehicle can only
 * touch its own sessions and keys. Throws when the event could not be applied; the link retries it.
 */
export async function handleVehicleEvent(
  services: Services,
  vehicleId: string,
  event: EventMessage,
): Promise<void> {
  const { db, clock, metrics, changes } = services;
  const seen = await db
    .selectFrom("auditLog")
    .select("seq")
    .where((eb) => eb(eb.ref("detail", "->>").key("eventId"), "=", event.eventId))
    .executeTakeFirst();
  if (seen) return;
  const now = new Date(clock.now());
  let applied: boolean;
  try {
    applied = await changes.commit(db, (tx, changed) =>
      applyEvent(services, tx, changed, vehicleId, event, now),
    );
  } catch (error) {
    if (isUniqueViolation(error, EVENT_ID_INDEX)) return; // Another replica applied it first.
    throw error;
  }
  // Counted after commit: a transaction that is re-run must not count twice.
  if (applied && event.type === "attempt_failed") metrics.attempts.inc({ result: "failed" });
  if (applied && event.type === "locked") metrics.pairings.inc({ outcome: "locked" });
}

/** The event's state change and audit entry; true when it changed state. */
async function applyEvent(
  { crypto }: Services,
  tx: Transaction<Database>,
  changed: ChangeSet,
  vehicleId: string,
  event: EventMessage,
  now: Date,
): Promise<boolean> {
  const audit = async (
    name: string,
    ids: { sessionId?: string; keyId?: string },
    detail: Record<string, unknown>,
  ) => {
    const entry = await appendAudit(
      tx,
      crypto,
      {
        actor: `vehicle:${vehicleId}`,
        event: name,
        vehicleId,
        ...ids,
        detail: { eventId: event.eventId, ...detail },
      },
      now,
    );
    changed.add("audit", entry);
  };

  switch (event.type) {
    case "attempt_failed": {
      const updated = await tx
        .updateTable("pairingSessions")
        .set((eb) => ({
          attemptCount: eb("maxAttempts", "-", event.remainingAttempts),
        }))
        .where("sessionId", "=", event.sessionId)
        .where("vehicleId", "=", vehicleId)
        .where("status", "=", "open")
        .where((eb) => eb("attemptCount", "<", eb("maxAttempts", "-", event.remainingAttempts)))
        .executeTakeFirst();
      const applied = updated.numUpdatedRows > 0n;
      if (applied) changed.add("session", event.sessionId);
      await audit(
        "pairing.attempt_failed",
        { sessionId: event.sessionId },
        { remainingAttempts: event.remainingAttempts, applied },
      );
      return applied;
    }
    case "locked": {
      const applied = await failSession(tx, vehicleId, event.sessionId, "ATTEMPTS_EXHAUSTED");
      if (applied) changed.add("session", event.sessionId);
      await audit("pairing.locked", { sessionId: event.sessionId }, { applied });
      return applied;
    }
    case "paired": {
      const key = await tx
        .selectFrom("digitalKeys")
        .innerJoin("pairingTransactions", "pairingTransactions.transactionId", "digitalKeys.transactionId")
        .select(["digitalKeys.keyId", "digitalKeys.keyMaterialHash"])
        .where("pairingTransactions.sessionId", "=", event.sessionId)
        .where("digitalKeys.vehicleId", "=", vehicleId)
        .executeTakeFirst();
      await audit(
        "pairing.vehicle_confirmed",
        { sessionId: event.sessionId, keyId: key?.keyId },
        {
          endpointIdHash: event.endpointIdHash,
          matchesDevice: key ? key.keyMaterialHash === event.endpointIdHash : null,
        },
      );
      return false;
    }
    case "endpoint_revoked": {
      const revoked = await tx
        .updateTable("digitalKeys")
        .set({ state: "revoked", revokedAt: now })
        .where("keyId", "=", event.keyId)
        .where("vehicleId", "=", vehicleId)
        .where("state", "in", ["active", "revoking"])
        .executeTakeFirst();
      const applied = revoked.numUpdatedRows > 0n;
      if (applied) changed.add("key", event.keyId);
      await audit("key.revoked_by_vehicle", { keyId: event.keyId }, { applied });
      return applied;
    }
  }
}

async function failSession(
  tx: Transaction<Database>,
  vehicleId: string,
  sessionId: string,
  code: string,
): Promise<boolean> {
  const result = await tx
    .updateTable("pairingSessions")
    .set({ status: "failed", failureCode: code })
    .where("sessionId", "=", sessionId)
    .where("vehicleId", "=", vehicleId)
    .where("status", "in", ["provisioning", "open"])
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
