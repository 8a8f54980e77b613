import type { Crypto } from "@pairkit/core";
import type { Db } from "../../src/db/database.ts";

let counter = 0;

/** A fresh user owning a fresh vehicle, so tests sharing one server do not share state. */
export async function addOwnedVehicle(
  db: Db,
  crypto: Crypto,
  options: { subscribed?: boolean; pinHash?: string | null; vehicleId?: string } = {},
): Promise<{ userId: string; vehicleId: string; vin: string }> {
  const n = `${process.pid}-${++counter}`;
  const userId = `user-${n}`;
  const vehicleId = options.vehicleId ?? `VH-${n}`;
  // Padded with a letter: padding with digits made counters 1, 10 and 100 the same VIN.
  const vin = `VIN${n.replace(/[^0-9]/g, "X")}`.padEnd(17, "Z").slice(0, 17);
  const now = new Date();
  await db
    .insertInto("users")
    .values({
      id: userId,
      email: `${userId}@example.com`,
      displayName: userId,
      role: "customer",
      createdAt: now,
    })
    .execute();
  await db
    .insertInto("vehicles")
    .values({
      id: vehicleId,
      vin,
      model: "Test",
      identityPublicKey: crypto.generateKeyPair().publicKey,
      policyFlags: 3,
      mqttSecretHash: null,
      createdAt: now,
    })
    .execute();
  await db
    .insertInto("ownerships")
    .values({ userId, vehicleId, pinHash: options.pinHash ?? null, pinLockedUntil: null, since: now })
    .execute();
  if (options.subscribed ?? true) {
    await db
      .insertInto("subscriptions")
      .values({
        userId,
        vehicleId,
        product: "digital_key",
        validUntil: new Date(Date.now() + 86_400_000 * 365),
      })
      .execute();
  }
  return { userId, vehicleId, vin };
}

/** Row counts of the tables a refused request must not touch. */
export async function stateSnapshot(db: Db) {
  const count = async (
    table:
      | "pairingSessions"
      | "pairingTransactions"
      | "digitalKeys"
      | "auditLog"
      | "verifierDeliveries"
      | "portalTokens"
      | "emailOutbox",
  ) =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    sessions: await count("pairingSessions"),
    transactions: await count("pairingTransactions"),
    keys: await count("digitalKeys"),
    audit: await count("auditLog"),
    deliveries: await count("verifierDeliveries"),
    portalTokens: await count("portalTokens"),
    outbox: await count("emailOutbox"),
  };
}
