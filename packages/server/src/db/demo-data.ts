import type { Crypto, ScryptParams } from "@pairkit/core";
import { hashLowEntropySecret } from "../auth/secret-hash.ts";
import type { Db } from "./database.ts";

/**
 * Demo data for development mode (never seeded in production; config.ts enforces it). The PIN is
 * public on purpose: it is documented in docs/operations.md for people trying the portal flow.
 */
export const DEMO = {
  pin: "2468",
  users: {
    alice: { id: "alice", email: "alice@example.com", displayName: "Alice Owner", role: "customer" },
    bob: { id: "bob", email: "bob@example.com", displayName: "Bob (no subscription)", role: "customer" },
    dave: { id: "dave", email: "dave@example.com", displayName: "Dave (owns nothing)", role: "customer" },
    carol: { id: "carol", email: "carol@example.com", displayName: "Carol (hotline agent)", role: "agent" },
    erin: { id: "erin", email: "erin@example.com", displayName: "Erin (administrator)", role: "admin" },
  },
  vehicles: {
    alices: {
      id: "VH-DEMO-1",
      vin: "WPKDEMO0000000001",
      model: "Demo Roadster",
      owner: "alice",
      subscribed: true,
    },
    bobs: {
      id: "VH-DEMO-2",
      vin: "WPKDEMO0000000002",
      model: "Demo Estate",
      owner: "bob",
      subscribed: false,
    },
    /** Alice's second car: the portal / e-mail flow demo pairs this one. */
    alicesSecond: {
      id: "VH-DEMO-3",
      vin: "WPKDEMO0000000003",
      model: "Demo Coupé",
      owner: "alice",
      subscribed: true,
    },
  },
} as const;

/** Idempotent: rows that already exist are left alone, so restarts keep state. */
export async function seedDemoData(
  db: Db,
  crypto: Crypto,
  pinParams: ScryptParams,
  now: Date,
): Promise<void> {
  await db
    .insertInto("users")
    .values(Object.values(DEMO.users).map((u) => ({ ...u, createdAt: now })))
    .onConflict((c) => c.doNothing())
    .execute();
  for (const vehicle of Object.values(DEMO.vehicles)) {
    const existing = await db
      .selectFrom("vehicles")
      .select("id")
      .where("id", "=", vehicle.id)
      .executeTakeFirst();
    if (existing) continue;
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto("vehicles")
        .values({
          id: vehicle.id,
          vin: vehicle.vin,
          model: vehicle.model,
          // Replaced by the simulator's own key when it registers (POST /dev/vehicles/{id}/credentials).
          identityPublicKey: crypto.generateKeyPair().publicKey,
          policyFlags: 0b011,
          mqttSecretHash: null,
          createdAt: now,
        })
        .onConflict((c) => c.doNothing())
        .execute();
      await tx
        .insertInto("ownerships")
        .values({
          userId: vehicle.owner,
          vehicleId: vehicle.id,
          pinHash: await hashLowEntropySecret(crypto, DEMO.pin, pinParams),
          pinLockedUntil: null,
          since: now,
        })
        .onConflict((c) => c.doNothing())
        .execute();
      if (vehicle.subscribed) {
        await tx
          .insertInto("subscriptions")
          .values({
            userId: vehicle.owner,
            vehicleId: vehicle.id,
            product: "digital_key",
            validUntil: new Date(now.getTime() + 365 * 24 * 3600 * 1000),
          })
          .onConflict((c) => c.doNothing())
          .execute();
      }
    });
  }
}
