import { randomUUID } from "node:crypto";
import { decodePoint, toHex } from "@pairkit/core";
import { appendAudit } from "../audit/audit-log.ts";
import { isUniqueViolation } from "../db/errors.ts";
import type { PairingSession } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { revokeKeyOnVehicle } from "../keys/revocation.ts";
import type { Services } from "../services.ts";

/** Why a session that is not open refuses further steps; ATTEMPTS_EXHAUSTED carries remainingAttempts 0. */
function closedSessionError(
  session: Pick<PairingSession, "status" | "failureCode" | "expiresAt">,
  now: Date,
): ApiError {
  if (session.failureCode === "ATTEMPTS_EXHAUSTED") {
    return new ApiError("ATTEMPTS_EXHAUSTED", "the vehicle locked this pairing password", {
      remainingAttempts: 0,
    });
  }
  if (session.status === "expired" || (session.status === "open" && session.expiresAt <= now)) {
    return new ApiError("PAIRING_PASSWORD_EXPIRED", "pairing password expired");
  }
  return new ApiError("SESSION_CLOSED", `pairing session is ${session.status}`);
}

export interface StartSessionRequest {
  readonly userId: string;
  readonly sessionId: string;
  readonly deviceNonce: Uint8Array;
  readonly pointX: Uint8Array;
}

export interface StartedSession {
  readonly transactionId: string;
  readonly vehiclePublicKey: Uint8Array;
  readonly policyFlags: number;
  readonly vehicleNonce: Uint8Array;
  readonly remainingAttempts: number;
}

/**
 * `/pairing/session/start`: the device reports a SPAKE2+ attempt. One statement consumes an attempt
 * only while the session is open, unexpired and under its budget, so concurrent reports from any
 * number of replicas can never spend more attempts than the session has. The device's n-th start
 * and the vehicle's report of its n-th attempt (vehicle-events.ts) are the same attempt: spent is
 * the greater of the two counts, not their sum, because a phone that fails the confirmation leaves
 * its start in flight and the vehicle's report may land first.
 */
export async function startSession(
  services: Services,
  request: StartSessionRequest,
): Promise<StartedSession> {
  const { db, crypto, clock, metrics, changes } = services;
  const now = new Date(clock.now());
  try {
    decodePoint(request.pointX, "pointX");
  } catch (cause) {
    throw new ApiError("BAD_REQUEST", "pointX is not a valid P-256 point", { cause });
  }
  const started = await changes.commit(db, async (tx, changed) => {
    const spent = await tx
      .updateTable("pairingSessions")
      .set((eb) => ({
        deviceAttemptCount: eb("deviceAttemptCount", "+", 1),
        attemptCount: eb.fn("greatest", ["attemptCount", eb("deviceAttemptCount", "+", 1)]),
      }))
      .where("sessionId", "=", request.sessionId)
      .where("userId", "=", request.userId)
      .where("status", "=", "open")
      .where("expiresAt", ">", now)
      .where((eb) => eb("deviceAttemptCount", "<", eb.ref("maxAttempts")))
      .where((eb) => eb("attemptCount", "<", eb.ref("maxAttempts")))
      .returning(["vehicleId", "attemptCount", "maxAttempts"])
      .executeTakeFirst();
    if (!spent) {
      const session = await tx
        .selectFrom("pairingSessions")
        .select(["status", "failureCode", "expiresAt", "attemptCount", "maxAttempts"])
        .where("sessionId", "=", request.sessionId)
        .where("userId", "=", request.userId)
        .executeTakeFirst();
      if (!session) throw new ApiError("SESSION_NOT_FOUND", "no such pairing session");
      if (session.status === "open" && session.expiresAt > now) {
        throw new ApiError("ATTEMPTS_EXHAUSTED", "no pairing attempts left", { remainingAttempts: 0 });
      }
      throw closedSessionError(session, now);
    }
    const vehicle = await tx
      .selectFrom("vehicles")
      .select(["identityPublicKey", "policyFlags"])
      .where("id", "=", spent.vehicleId)
      .executeTakeFirstOrThrow();
    const transactionId = randomUUID();
    const vehicleNonce = crypto.randomBytes(16);
    await tx
      .insertInto("pairingTransactions")
      .values({
        transactionId,
        sessionId: request.sessionId,
        status: "started",
        vehiclePublicKeyHash: toHex(crypto.sha256(vehicle.identityPublicKey)),
        policyFlags: vehicle.policyFlags,
        deviceNonce: request.deviceNonce,
        pointX: request.pointX,
        serverNonce: vehicleNonce,
        configDigest: null,
        endpointHash: null,
        createdAt: now,
      })
      .execute();
    const remainingAttempts = spent.maxAttempts - spent.attemptCount;
    changed.add("session", request.sessionId);
    changed.add("transaction", transactionId);
    const entry = await appendAudit(
      tx,
      crypto,
      {
        actor: `user:${request.userId}`,
        event: "pairing.attempt_started",
        vehicleId: spent.vehicleId,
        sessionId: request.sessionId,
        detail: { transactionId, remainingAttempts },
      },
      now,
    );
    changed.add("audit", entry);
    return {
      transactionId,
      vehiclePublicKey: new Uint8Array(vehicle.identityPublicKey),
      policyFlags: vehicle.policyFlags,
      vehicleNonce,
      remainingAttempts,
    };
  });
  // Counted after commit: a transaction that is re-run must not count twice.
  metrics.attempts.inc({ result: "started" });
  return started;
}

export interface ConfirmConfigRequest {
  readonly userId: string;
  readonly transactionId: string;
  readonly configDigest: string;
  readonly endpointIdHash: string;
  readonly seStatus: number;
}

/**
 * `/pairing/config/confirm`: the device has its endpoint. One transaction closes the session,
 * records the owner key (the partial unique index admits one active owner key per vehicle) and,
 * when the owner asked to replace a device, marks the old key for revocation — which the vehicle
 * is told about after commit.
 */
export async function confirmConfig(
  services: Services,
  request: ConfirmConfigRequest,
): Promise<{ keyId?: string }> {
  const { db, crypto, clock, metrics, changes } = services;
  const now = new Date(clock.now());
  const actor = `user:${request.userId}`;
  const found = await db
    .selectFrom("pairingTransactions")
    .innerJoin("pairingSessions", "pairingSessions.sessionId", "pairingTransactions.sessionId")
    .select([
      "pairingTransactions.sessionId",
      "pairingTransactions.status as transactionStatus",
      "pairingSessions.vehicleId",
      "pairingSessions.replaceExisting",
    ])
    .where("pairingTransactions.transactionId", "=", request.transactionId)
    .where("pairingSessions.userId", "=", request.userId)
    .executeTakeFirst();
  if (!found) throw new ApiError("TRANSACTION_NOT_FOUND", "no such pairing transaction");
  const { sessionId, vehicleId } = found;

  if (request.seStatus !== 0) {
    await changes.commit(db, async (tx, changed) => {
      // The session row before the transaction row (docs/operations.md, lock order); a refusal
      // below rolls the session change back.
      await tx
        .updateTable("pairingSessions")
        .set({ status: "failed", failureCode: "SECURE_ELEMENT_ERROR" })
        .where("sessionId", "=", sessionId)
        .where("status", "=", "open")
        .execute();
      const failed = await tx
        .updateTable("pairingTransactions")
        .set({ status: "failed" })
        .where("transactionId", "=", request.transactionId)
        .where("status", "=", "started")
        .executeTakeFirst();
      if (failed.numUpdatedRows === 0n) throw new ApiError("SESSION_CLOSED", "transaction already concluded");
      changed.add("transaction", request.transactionId);
      changed.add("session", sessionId);
      const entry = await appendAudit(
        tx,
        crypto,
        {
          actor,
          event: "pairing.endpoint_failed",
          vehicleId,
          sessionId,
          detail: { transactionId: request.transactionId, seStatus: request.seStatus },
        },
        now,
      );
      changed.add("audit", entry);
    });
    metrics.pairings.inc({ outcome: "failed" });
    return {};
  }

  // A device whose confirm reply was lost repeats it (docs/protocol.md §3.7): same answer.
  if (found.transactionStatus !== "started") {
    const repeated = await keyOfRepeatedConfirm(db, request);
    if (repeated) return { keyId: repeated };
  }
  const keyId = randomUUID();
  let replaced: { keyId: string; keyMaterialHash: string }[] = [];
  try {
    replaced = await changes.commit(db, async (tx, changed) => {
      // The session row before the transaction row (docs/operations.md, lock order).
      const closed = await tx
        .updateTable("pairingSessions")
        .set({ status: "paired" })
        .where("sessionId", "=", sessionId)
        .where("status", "=", "open")
        .returning(["status", "failureCode", "expiresAt"])
        .executeTakeFirst();
      if (!closed) {
        const session = await tx
          .selectFrom("pairingSessions")
          .select(["status", "failureCode", "expiresAt"])
          .where("sessionId", "=", sessionId)
          .executeTakeFirstOrThrow();
        throw closedSessionError(session, now);
      }
      const configured = await tx
        .updateTable("pairingTransactions")
        .set({
          status: "configured",
          configDigest: request.configDigest,
          endpointHash: request.endpointIdHash,
        })
        .where("transactionId", "=", request.transactionId)
        .where("status", "=", "started")
        .executeTakeFirst();
      if (configured.numUpdatedRows === 0n)
        throw new ApiError("SESSION_CLOSED", "transaction already concluded");
      const old = found.replaceExisting
        ? await tx
            .updateTable("digitalKeys")
            .set({ state: "revoking" })
            .where("vehicleId", "=", vehicleId)
            .where("role", "=", "owner")
            .where("state", "=", "active")
            .returning(["keyId", "keyMaterialHash"])
            .execute()
        : [];
      await tx
        .insertInto("digitalKeys")
        .values({
          keyId,
          vehicleId,
          ownerUserId: request.userId,
          role: "owner",
          state: "active",
          keyMaterialHash: request.endpointIdHash,
          endpointPublicKey: null,
          transactionId: request.transactionId,
          createdAt: now,
          revokedAt: null,
        })
        .execute();
      changed.add("transaction", request.transactionId);
      changed.add("session", sessionId);
      for (const k of old) changed.add("key", k.keyId);
      changed.add("key", keyId);
      const entry = await appendAudit(
        tx,
        crypto,
        {
          actor,
          event: "pairing.completed",
          vehicleId,
          sessionId,
          keyId,
          detail: {
            transactionId: request.transactionId,
            configDigest: request.configDigest,
            replacedKeys: old.map((k) => k.keyId),
          },
        },
        now,
      );
      changed.add("audit", entry);
      return old;
    });
  } catch (error) {
    if (isUniqueViolation(error, "digital_keys_one_active_owner")) {
      throw new ApiError("OWNER_DEVICE_EXISTS", "another owner device was paired meanwhile");
    }
    // The same confirm, repeated while the first was still running, committed first.
    const repeated = error instanceof ApiError ? await keyOfRepeatedConfirm(db, request) : undefined;
    if (repeated) return { keyId: repeated };
    throw error;
  }
  metrics.pairings.inc({ outcome: "paired" });
  for (const old of replaced) {
    revokeKeyOnVehicle(services, vehicleId, old.keyId, old.keyMaterialHash).catch((err: unknown) =>
      services.log.warn({ err, keyId: old.keyId }, "revocation of a replaced key not confirmed yet"),
    );
  }
  return { keyId };
}

/**
 * The active key a committed confirm created, when `request` repeats that confirm exactly (same
 * user, transaction, configuration digest and endpoint); undefined for anything else.
 */
async function keyOfRepeatedConfirm(
  db: Services["db"],
  request: ConfirmConfigRequest,
): Promise<string | undefined> {
  const row = await db
    .selectFrom("pairingTransactions")
    .innerJoin("pairingSessions", "pairingSessions.sessionId", "pairingTransactions.sessionId")
    .innerJoin("digitalKeys", "digitalKeys.transactionId", "pairingTransactions.transactionId")
    .select("digitalKeys.keyId")
    .where("pairingTransactions.transactionId", "=", request.transactionId)
    .where("pairingSessions.userId", "=", request.userId)
    .where("pairingTransactions.configDigest", "=", request.configDigest)
    .where("pairingTransactions.endpointHash", "=", request.endpointIdHash)
    .where("digitalKeys.state", "=", "active")
    .executeTakeFirst();
  return row?.keyId;
}
