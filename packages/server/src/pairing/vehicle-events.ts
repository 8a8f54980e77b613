import type { Transaction } from "kysely";
import { appendAudit } from "../audit/audit-log.ts";
import type { Database } from "../db/schema.ts";
import type { Services } from "../services.ts";
import type { EventMessage } from "../vehicle-link/messages.ts";

/**
 * Applies one vehicle event. Every replica hears every event; the transaction locks the audit head
 * first and skips an eventId already recorded, so each event changes state and is audited once.
 * The vehicle id comes from the topic (the broker's ACL vouches for it): a vehicle can only touch
 * its own sessions and keys.
 */
export async function handleVehicleEvent(
  services: Services,
  vehicleId: string,
  event: EventMessage,
): Promise<void> {
  const { db, crypto, clock, metrics, changes } = services;
  const now = new Date(clock.now());
  await changes.commit(db, async (tx, changed) => {
    await tx.selectFrom("auditHead").select("seq").where("id", "=", 1).forUpdate().execute();
    const seen = await tx
      .selectFrom("auditLog")
      .select("seq")
      .where((eb) => eb(eb.ref("detail", "->>").key("eventId"), "=", event.eventId))
      .executeTakeFirst();
    if (seen) return;
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
        if (updated.numUpdatedRows > 0n) {
          metrics.attempts.inc({ result: "failed" });
          changed.add("session", event.sessionId);
        }
        await audit(
          "pairing.attempt_failed",
          { sessionId: event.sessionId },
          { remainingAttempts: event.remainingAttempts, applied: updated.numUpdatedRows > 0n },
        );
        return;
      }
      case "locked": {
        const failed = await failSession(tx, vehicleId, event.sessionId, "ATTEMPTS_EXHAUSTED");
        if (failed) {
          metrics.pairings.inc({ outcome: "locked" });
          changed.add("session", event.sessionId);
        }
        await audit("pairing.locked", { sessionId: event.sessionId }, { applied: failed });
        return;
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
        return;
      }
      case "endpoint_revoked": {
        const revoked = await tx
          .updateTable("digitalKeys")
          .set({ state: "revoked", revokedAt: now })
          .where("keyId", "=", event.keyId)
          .where("vehicleId", "=", vehicleId)
          .where("state", "in", ["active", "revoking"])
          .executeTakeFirst();
        if (revoked.numUpdatedRows > 0n) changed.add("key", event.keyId);
        await audit(
          "key.revoked_by_vehicle",
          { keyId: event.keyId },
          { applied: revoked.numUpdatedRows > 0n },
        );
        return;
      }
    }
  });
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
