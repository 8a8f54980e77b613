import { randomUUID } from "node:crypto";
import { appendAudit } from "../audit/audit-log.ts";
import { ApiError } from "../errors.ts";
import type { Services } from "../services.ts";

/**
 * Tells the vehicle to forget an endpoint and waits for its ack; the key becomes `revoked` only
 * then (or when the vehicle reports `endpoint_revoked` by itself). Without an ack the key stays
 * `revoking` and the delivery is recorded as timed out.
 */
export async function revokeKeyOnVehicle(
  services: Services,
  vehicleId: string,
  keyId: string,
  endpointIdHash: string,
): Promise<void> {
  const { db, crypto, clock, link, config, changes } = services;
  const deliveryId = randomUUID();
  await db
    .insertInto("verifierDeliveries")
    .values({
      deliveryId,
      vehicleId,
      kind: "revoke",
      sessionId: null,
      keyId,
      status: "pending",
      sentAt: new Date(clock.now()),
      answeredAt: null,
    })
    .execute();
  let status: "acked" | "rejected" | "timeout";
  try {
    const ack = await link.revoke(
      vehicleId,
      { deliveryId, keyId, endpointIdHash },
      config.pairing.vehicleAckTimeoutMs,
    );
    status = ack.status === "ok" ? "acked" : "rejected";
  } catch (error) {
    status = "timeout";
    await db
      .updateTable("verifierDeliveries")
      .set({ status, answeredAt: new Date(clock.now()) })
      .where("deliveryId", "=", deliveryId)
      .execute();
    throw error;
  }
  const now = new Date(clock.now());
  await changes.commit(db, async (tx, changed) => {
    // The key row before the delivery row: the lock order of docs/operations.md.
    const revoked =
      status === "acked"
        ? await tx
            .updateTable("digitalKeys")
            .set({ state: "revoked", revokedAt: now })
            .where("keyId", "=", keyId)
            .where("state", "=", "revoking")
            .executeTakeFirst()
        : undefined;
    await tx
      .updateTable("verifierDeliveries")
      .set({ status, answeredAt: now })
      .where("deliveryId", "=", deliveryId)
      .execute();
    if (revoked && revoked.numUpdatedRows > 0n) {
      changed.add("key", keyId);
      changed.add(
        "audit",
        await appendAudit(
          tx,
          crypto,
          { actor: `vehicle:${vehicleId}`, event: "key.revoked", vehicleId, keyId },
          now,
        ),
      );
    }
  });
}

export interface RevocationRequest {
  readonly keyId: string;
  /** The owner revoking their own key; undefined: an administrator revoking any key. */
  readonly ownerUserId: string | undefined;
  /** `user:<id>` or `admin:<id>` for the audit log. */
  readonly actor: string;
}

/**
 * The owner (or an administrator) revokes a key: `active` → `revoking` now, `revoked` when the
 * vehicle confirms. An owner sees KEY_NOT_FOUND for keys that are not theirs.
 */
export async function requestKeyRevocation(services: Services, request: RevocationRequest): Promise<void> {
  const { db, crypto, clock, changes } = services;
  const { keyId, ownerUserId } = request;
  const now = new Date(clock.now());
  const key = await changes.commit(db, async (tx, changed) => {
    const updated = await tx
      .updateTable("digitalKeys")
      .set({ state: "revoking" })
      .where("keyId", "=", keyId)
      .$if(ownerUserId !== undefined, (q) => q.where("ownerUserId", "=", ownerUserId!))
      .where("state", "=", "active")
      .returning(["vehicleId", "keyMaterialHash"])
      .executeTakeFirst();
    if (!updated) {
      const existing = await tx
        .selectFrom("digitalKeys")
        .select("state")
        .where("keyId", "=", keyId)
        .$if(ownerUserId !== undefined, (q) => q.where("ownerUserId", "=", ownerUserId!))
        .executeTakeFirst();
      if (!existing) throw new ApiError("KEY_NOT_FOUND", "no such key");
      throw new ApiError("KEY_NOT_ACTIVE", `key is ${existing.state}`);
    }
    changed.add("key", keyId);
    changed.add(
      "audit",
      await appendAudit(
        tx,
        crypto,
        { actor: request.actor, event: "key.revocation_requested", vehicleId: updated.vehicleId, keyId },
        now,
      ),
    );
    return updated;
  });
  revokeKeyOnVehicle(services, key.vehicleId, keyId, key.keyMaterialHash).catch((err: unknown) =>
    services.log.warn({ err, keyId }, "key revocation not confirmed by the vehicle yet"),
  );
}
