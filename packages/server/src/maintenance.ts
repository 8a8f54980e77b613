import { sql } from "kysely";
import { appendAudit } from "./audit/audit-log.ts";
import { revokeKeyOnVehicle } from "./keys/revocation.ts";
import type { Services } from "./services.ts";

export interface MaintenanceReport {
  readonly expiredSessions: number;
  readonly mailsSent: number;
  readonly mailsDiscarded: number;
  readonly revocationsRetried: number;
  /** Deliveries left `pending` by a replica that stopped waiting for their ack (it crashed). */
  readonly deliveriesClosed: number;
}

/** E-mails are retried this many times; then they stay unsent for an operator to look at. */
const MAX_MAIL_ATTEMPTS = 5;

/**
 * Periodic upkeep, safe to run on every replica at once (each step is a conditional statement or
 * idempotent): expire live sessions past their deadline, close deliveries whose waiter is gone,
 * retry unsent e-mails while their link is still valid (and clear the bodies of the rest, which
 * hold dead one-time links), and re-send revocations the vehicle has not acknowledged yet.
 */
export async function runMaintenance(services: Services): Promise<MaintenanceReport> {
  const { db, crypto, clock, config, metrics, mailer, log, changes } = services;
  const now = new Date(clock.now());

  const expired = await changes.commit(db, async (tx, changed) => {
    const rows = await tx
      .updateTable("pairingSessions")
      .set({ status: "expired", failureCode: "PAIRING_PASSWORD_EXPIRED" })
      .where("status", "in", ["provisioning", "open"])
      .where("expiresAt", "<=", now)
      .returning(["sessionId", "vehicleId"])
      .execute();
    for (const row of rows) {
      changed.add("session", row.sessionId);
      changed.add(
        "audit",
        await appendAudit(
          tx,
          crypto,
          { actor: "system", event: "pairing.expired", vehicleId: row.vehicleId, sessionId: row.sessionId },
          now,
        ),
      );
    }
    return rows.length;
  });
  if (expired > 0) metrics.pairings.inc({ outcome: "expired" }, expired);

  const deliveriesClosed = await closeAbandonedDeliveries(services, now);

  const linkDeadline = new Date(now.getTime() - config.portal.linkTtlSeconds * 1000);
  const discarded = await db
    .updateTable("emailOutbox")
    .set({ body: "" })
    .where("sentAt", "is", null)
    .where("createdAt", "<=", linkDeadline)
    .where("body", "!=", "")
    .executeTakeFirst();
  const pending = await db
    .selectFrom("emailOutbox")
    .select("id")
    .where("sentAt", "is", null)
    .where("createdAt", ">", linkDeadline)
    .where("attempts", "<", MAX_MAIL_ATTEMPTS)
    .execute();
  let mailsSent = 0;
  for (const { id } of pending) {
    if (
      await mailer.deliver(id).catch((err: unknown) => log.warn({ err, outboxId: id }, "e-mail retry failed"))
    )
      mailsSent++;
  }

  const stuck = await db
    .selectFrom("digitalKeys")
    .select(["keyId", "vehicleId", "keyMaterialHash"])
    .where("state", "=", "revoking")
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom("verifierDeliveries")
            .select(sql`1`.as("one"))
            .whereRef("verifierDeliveries.keyId", "=", "digitalKeys.keyId")
            .where("verifierDeliveries.status", "=", "pending")
            // A younger pending delivery still has its waiter; older ones were closed above.
            .where("verifierDeliveries.sentAt", ">", waiterGone(services, now)),
        ),
      ),
    )
    .execute();
  for (const key of stuck) {
    revokeKeyOnVehicle(services, key.vehicleId, key.keyId, key.keyMaterialHash).catch((err: unknown) =>
      log.warn({ err, keyId: key.keyId }, "revocation still not acknowledged"),
    );
  }

  return {
    expiredSessions: expired,
    mailsSent,
    mailsDiscarded: Number(discarded.numUpdatedRows),
    revocationsRetried: stuck.length,
    deliveriesClosed,
  };
}

/** A delivery still pending after twice the ack timeout has lost its waiter: the replica stopped. */
function waiterGone({ config }: Services, now: Date): Date {
  return new Date(now.getTime() - 2 * config.pairing.vehicleAckTimeoutMs);
}

/**
 * Closes deliveries a crashed replica left `pending` as `timeout`, as the waiter would have. A
 * provision's session still `provisioning` fails with VEHICLE_OFFLINE (its password never reached
 * the owner); a revocation's key stays `revoking` and is re-sent below. Session rows are locked
 * before delivery rows and the audit head last (docs/operations.md).
 */
async function closeAbandonedDeliveries(services: Services, now: Date): Promise<number> {
  const { db, crypto, changes } = services;
  return changes.commit(db, async (tx, changed) => {
    const abandoned = await tx
      .selectFrom("verifierDeliveries")
      .select(["deliveryId", "kind", "sessionId"])
      .where("status", "=", "pending")
      .where("sentAt", "<=", waiterGone(services, now))
      .execute();
    if (abandoned.length === 0) return 0;
    const sessionIds = abandoned.flatMap((d) => (d.kind === "provision" && d.sessionId ? [d.sessionId] : []));
    const failed =
      sessionIds.length === 0
        ? []
        : await tx
            .updateTable("pairingSessions")
            .set({ status: "failed", failureCode: "VEHICLE_OFFLINE" })
            .where("sessionId", "in", sessionIds)
            .where("status", "=", "provisioning")
            .returning(["sessionId", "vehicleId"])
            .execute();
    const closed = await tx
      .updateTable("verifierDeliveries")
      .set({ status: "timeout", answeredAt: now })
      .where(
        "deliveryId",
        "in",
        abandoned.map((d) => d.deliveryId),
      )
      .where("status", "=", "pending")
      .executeTakeFirst();
    for (const session of failed) {
      changed.add("session", session.sessionId);
      changed.add(
        "audit",
        await appendAudit(
          tx,
          crypto,
          {
            actor: "system",
            event: "pairing.verifier_not_acknowledged",
            vehicleId: session.vehicleId,
            sessionId: session.sessionId,
            detail: { delivery: "timeout", waiter: "gone" },
          },
          now,
        ),
      );
    }
    return Number(closed.numUpdatedRows);
  });
}

/** Runs maintenance every `intervalMs`; the returned function stops it and waits for a run in progress. */
export function startMaintenance(services: Services, intervalMs: number): () => Promise<void> {
  let cancel: (() => void) | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = runMaintenance(services)
      .then(() => undefined)
      .catch((err: unknown) => services.log.error({ err }, "maintenance failed"))
      .finally(() => {
        if (!stopped) cancel = services.clock.setTimeout(tick, intervalMs);
      });
  };
  cancel = services.clock.setTimeout(tick, intervalMs);
  return async () => {
    stopped = true;
    cancel?.();
    await running;
  };
}
