import { randomUUID } from "node:crypto";
import {
  derivePasswordScalars,
  encodeScalar,
  generatePairingPassword,
  PairkitError,
  type PasswordScalars,
  SALT_LENGTH,
  type ScryptParams,
  verifierFromScalars,
} from "@pairkit/core";
import { appendAudit } from "../audit/audit-log.ts";
import { isUniqueViolation } from "../db/errors.ts";
import type { DeviceInfoJson, SessionChannel } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import type { Services } from "../services.ts";
import { VehicleOfflineError } from "../vehicle-link/server-link.ts";
import { consumeRateLimit, refundRateLimit } from "./rate-limit.ts";

export interface PasswordRequest {
  readonly userId: string;
  readonly vehicleId: string;
  readonly deviceInfo: DeviceInfoJson | null;
  /** The owner asks to replace the active owner device; its key is revoked when this pairing completes. */
  readonly replaceExisting: boolean;
  readonly channel: SessionChannel;
  /** `user:<id>` or `agent:<id>` for the audit log. */
  readonly actor: string;
}

export interface IssuedPassword {
  readonly sessionId: string;
  /** Shown to the owner once; never stored, never logged. */
  readonly pairingPassword: string;
  readonly expiresAt: Date;
  readonly maxAttempts: number;
  readonly scrypt: ScryptParams;
}

/** Refuses the request unless the user owns the vehicle, subscribes, and the one-owner-device rule allows it. */
export async function checkPairingEligibility(
  { db, clock }: Services,
  userId: string,
  vehicleId: string,
  replaceExisting: boolean,
): Promise<void> {
  const now = new Date(clock.now());
  const ownership = await db
    .selectFrom("ownerships")
    .select("vehicleId")
    .where("userId", "=", userId)
    .where("vehicleId", "=", vehicleId)
    .executeTakeFirst();
  // Same answer for "no such vehicle" and "someone else's vehicle": existence is not disclosed.
  if (!ownership) throw new ApiError("NOT_OWNER", "you do not own this vehicle");
  const subscription = await db
    .selectFrom("subscriptions")
    .select("validUntil")
    .where("userId", "=", userId)
    .where("vehicleId", "=", vehicleId)
    .where("product", "=", "digital_key")
    .where("validUntil", ">", now)
    .executeTakeFirst();
  if (!subscription)
    throw new ApiError("NO_SUBSCRIPTION", "no active digital key subscription for this vehicle");
  if (!replaceExisting) {
    const active = await db
      .selectFrom("digitalKeys")
      .select("keyId")
      .where("vehicleId", "=", vehicleId)
      .where("role", "=", "owner")
      .where("state", "=", "active")
      .executeTakeFirst();
    if (active) {
      throw new ApiError("OWNER_DEVICE_EXISTS", "an owner device is already paired; ask to replace it");
    }
  }
}

/**
 * Seed 000 phase 1 / DESIGN.md: check → password + salt → (w0, L) off the event loop → session row
 * → verifier to the vehicle over MQTT → wait for its ack. The password leaves this function only in
 * the return value; the database gets the salt and parameters, the vehicle gets (w0, L).
 */
export async function requestPairingPassword(
  services: Services,
  request: PasswordRequest,
): Promise<IssuedPassword> {
  const { config, db, crypto, clock, link, derivation, changes } = services;
  const { userId, vehicleId } = request;

  await checkPairingEligibility(services, userId, vehicleId, request.replaceExisting);
  const charge = await consumeRateLimit(
    services,
    `password:${userId}:${vehicleId}`,
    config.pairing.requestsPerHour,
    3600,
  );

  const scrypt = config.pairing.scrypt;
  const pairingPassword = generatePairingPassword(crypto.randomBytes);
  const salt = crypto.randomBytes(SALT_LENGTH);
  let scalars: PasswordScalars;
  try {
    scalars = await derivation.run(() => derivePasswordScalars(crypto, pairingPassword, salt, scrypt));
  } catch (error) {
    // A full queue is the server's problem, not the owner's: the refused request costs no quota.
    if (error instanceof ApiError && error.code === "SERVER_BUSY") await refundRateLimit(services, charge);
    throw error;
  }
  const verifier = verifierFromScalars(crypto, scalars);

  const now = new Date(clock.now());
  const expiresAt = new Date(now.getTime() + config.pairing.expirySeconds * 1000);
  const sessionId = randomUUID();
  const deliveryId = randomUUID();
  const maxAttempts = config.pairing.maxAttempts;

  let seq: number;
  try {
    seq = await changes.commit(db, async (tx, changed) => {
      // Locks the vehicle row until commit: requests for one vehicle take turns here, and their
      // sequence numbers follow commit order, so the vehicle can drop a verifier that arrives late.
      const { verifierSeq } = await tx
        .updateTable("vehicles")
        .set((eb) => ({ verifierSeq: eb("verifierSeq", "+", 1) }))
        .where("id", "=", vehicleId)
        .returning("verifierSeq")
        .executeTakeFirstOrThrow();
      // The vehicle holds one verifier at a time: a new request replaces a live session. The unique
      // index is the last line of defence should two inserts still meet.
      const superseded = await tx
        .updateTable("pairingSessions")
        .set({ status: "superseded" })
        .where("vehicleId", "=", vehicleId)
        .where("status", "in", ["provisioning", "open"])
        .returning("sessionId")
        .execute();
      for (const row of superseded) changed.add("session", row.sessionId);
      await tx
        .insertInto("pairingSessions")
        .values({
          sessionId,
          userId,
          vehicleId,
          status: "provisioning",
          channel: request.channel,
          issuedAt: now,
          expiresAt,
          maxAttempts,
          scryptConfig: JSON.stringify(scrypt),
          salt,
          replaceExisting: request.replaceExisting,
          deviceInfo: JSON.stringify(request.deviceInfo),
          failureCode: null,
        })
        .execute();
      changed.add("session", sessionId);
      await tx
        .insertInto("verifierDeliveries")
        .values({
          deliveryId,
          vehicleId,
          kind: "provision",
          sessionId,
          keyId: null,
          status: "pending",
          sentAt: now,
          answeredAt: null,
        })
        .execute();
      const entry = await appendAudit(
        tx,
        crypto,
        {
          actor: request.actor,
          event: "pairing.password_requested",
          vehicleId,
          sessionId,
          detail: {
            channel: request.channel,
            replaceExisting: request.replaceExisting,
            superseded: superseded.map((s) => s.sessionId),
          },
        },
        now,
      );
      changed.add("audit", entry);
      return verifierSeq;
    });
  } catch (error) {
    if (isUniqueViolation(error, "pairing_sessions_one_live_per_vehicle")) {
      throw new ApiError(
        "PAIRING_IN_PROGRESS",
        "another pairing password request for this vehicle is in progress",
      );
    }
    throw error;
  }

  let outcome: { status: "acked" } | { status: "timeout" | "rejected"; error: ApiError };
  try {
    const ack = await link.provision(
      vehicleId,
      {
        deliveryId,
        sessionId,
        seq,
        salt: Buffer.from(salt).toString("base64"),
        scrypt: { ...scrypt },
        w0: Buffer.from(encodeScalar(verifier.w0)).toString("base64"),
        L: Buffer.from(verifier.L).toString("base64"),
        expiresAt: expiresAt.toISOString(),
        maxAttempts,
      },
      config.pairing.vehicleAckTimeoutMs,
    );
    outcome =
      ack.status === "ok"
        ? { status: "acked" }
        : {
            status: "rejected",
            error: new ApiError("VEHICLE_REJECTED", "the vehicle refused the pairing verifier"),
          };
  } catch (cause) {
    if (
      !(cause instanceof VehicleOfflineError) &&
      !(cause instanceof PairkitError && cause.code.startsWith("MQTT"))
    ) {
      throw cause;
    }
    outcome = {
      status: "timeout",
      error: new ApiError(
        "VEHICLE_OFFLINE",
        "the vehicle did not confirm; make sure it is online and retry",
        {
          retryAfter: 30,
          cause,
        },
      ),
    };
  }

  const answeredAt = new Date(clock.now());
  const opened = await changes.commit(db, async (tx, changed) => {
    // The session row before the delivery row: the lock order of docs/operations.md.
    const updated = await tx
      .updateTable("pairingSessions")
      .set(
        outcome.status === "acked"
          ? { status: "open" }
          : { status: "failed", failureCode: outcome.error.code },
      )
      .where("sessionId", "=", sessionId)
      .where("status", "=", "provisioning")
      .executeTakeFirst();
    await tx
      .updateTable("verifierDeliveries")
      .set({ status: outcome.status, answeredAt })
      .where("deliveryId", "=", deliveryId)
      .where("status", "=", "pending")
      .execute();
    const concluded = updated.numUpdatedRows > 0n;
    if (concluded) {
      changed.add("session", sessionId);
      const entry = await appendAudit(
        tx,
        crypto,
        {
          actor: `vehicle:${vehicleId}`,
          event:
            outcome.status === "acked"
              ? "pairing.verifier_acknowledged"
              : "pairing.verifier_not_acknowledged",
          vehicleId,
          sessionId,
          detail: { delivery: outcome.status },
        },
        answeredAt,
      );
      changed.add("audit", entry);
    }
    return concluded;
  });

  if (outcome.status !== "acked") throw outcome.error;
  // Superseded by a newer request while the vehicle was answering: this password is already void.
  if (!opened)
    throw new ApiError("PAIRING_IN_PROGRESS", "a newer pairing password request replaced this one");
  return { sessionId, pairingPassword, expiresAt, maxAttempts, scrypt };
}
