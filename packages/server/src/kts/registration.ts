import { decodePoint, toHex } from "@pairkit/core";
import { appendAudit } from "../audit/audit-log.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { ApiError } from "../errors.ts";
import type { Services } from "../services.ts";

export interface IssuedAttestation {
  readonly keyId: string;
  readonly vehicleId: string;
  readonly endpointPublicKeyHash: Uint8Array;
  readonly issuedAt: Date;
  readonly signature: Uint8Array;
}

/** endpointIdHash (ENDPOINT_READY, 16 bytes) = the first 16 bytes of SHA-256(endpoint public key). */
export function endpointIdHashOf(services: Pick<Services, "crypto">, endpointPublicKey: Uint8Array): string {
  return toHex(services.crypto.sha256(endpointPublicKey).subarray(0, 16));
}

/**
 * KTS: registers the endpoint public key of a configured pairing and signs its key attestation.
 * The key must be the one the device announced in `/pairing/config/confirm` (its hash matches),
 * and belong to the calling user.
 */
export async function registerEndpoint(
  services: Services,
  userId: string,
  transactionId: string,
  endpointPublicKey: Uint8Array,
): Promise<IssuedAttestation> {
  const { db, crypto, clock, kts, changes } = services;
  try {
    decodePoint(endpointPublicKey, "endpointPublicKey");
  } catch (cause) {
    throw new ApiError("BAD_REQUEST", "endpointPublicKey is not a valid P-256 point", { cause });
  }
  const key = await db
    .selectFrom("digitalKeys")
    .select(["keyId", "vehicleId", "keyMaterialHash", "state"])
    .where("transactionId", "=", transactionId)
    .where("ownerUserId", "=", userId)
    .executeTakeFirst();
  if (!key) throw new ApiError("TRANSACTION_NOT_FOUND", "no configured pairing for this transaction");
  if (key.state !== "active") throw new ApiError("KEY_NOT_ACTIVE", `key is ${key.state}`);
  if (endpointIdHashOf(services, endpointPublicKey) !== key.keyMaterialHash) {
    throw new ApiError(
      "INVALID_ATTESTATION",
      "endpoint public key does not match the announced endpointIdHash",
    );
  }
  // Asking again for the same endpoint gets the attestation already issued: a phone whose reply was
  // lost (or whose KTS call failed after issuance) retries later and must not be locked out.
  const issued = async (): Promise<IssuedAttestation | undefined> => {
    const row = await db
      .selectFrom("keyAttestations")
      .select(["signature", "issuedAt"])
      .where("keyId", "=", key.keyId)
      .executeTakeFirst();
    return row && { ...common, issuedAt: row.issuedAt, signature: row.signature };
  };
  const common = {
    keyId: key.keyId,
    vehicleId: key.vehicleId,
    endpointPublicKeyHash: crypto.sha256(endpointPublicKey),
  };
  const earlier = await issued();
  if (earlier) return earlier;
  const issuedAt = new Date(clock.now());
  const fields = { ...common, issuedAt };
  const signature = kts.sign({ ...fields, endpointKeyId: key.keyMaterialHash });
  try {
    await changes.commit(db, async (tx, changed) => {
      // The key row before its attestation (docs/operations.md, lock order).
      await tx.updateTable("digitalKeys").set({ endpointPublicKey }).where("keyId", "=", key.keyId).execute();
      await tx
        .insertInto("keyAttestations")
        .values({ keyId: key.keyId, transactionId, signature, issuedAt, verified: false })
        .execute();
      changed.add("attestation", key.keyId);
      changed.add("key", key.keyId);
      const entry = await appendAudit(
        tx,
        crypto,
        {
          actor: "system:kts",
          event: "kts.attestation_issued",
          vehicleId: key.vehicleId,
          keyId: key.keyId,
          detail: { transactionId },
        },
        issuedAt,
      );
      changed.add("audit", entry);
    });
  } catch (error) {
    const raced = isUniqueViolation(error) ? await issued() : undefined;
    if (raced) return raced;
    throw error;
  }
  return { ...fields, signature };
}

/**
 * `/pairing/kts/response`: the device hands back the attestation it stored (seed 001 phase 4). It
 * must be exactly what the KTS issued and verify under the KTS key; then the key is attested.
 */
export async function recordKtsResponse(
  services: Services,
  userId: string,
  transactionId: string,
  signature: Uint8Array,
  issuedAt: Date,
): Promise<void> {
  const { db, crypto, clock, kts, changes } = services;
  const record = await db
    .selectFrom("keyAttestations")
    .innerJoin("digitalKeys", "digitalKeys.keyId", "keyAttestations.keyId")
    .select([
      "digitalKeys.keyId",
      "digitalKeys.vehicleId",
      "digitalKeys.endpointPublicKey",
      "digitalKeys.keyMaterialHash",
      "keyAttestations.signature",
      "keyAttestations.issuedAt",
    ])
    .where("keyAttestations.transactionId", "=", transactionId)
    .where("digitalKeys.ownerUserId", "=", userId)
    .executeTakeFirst();
  if (!record?.endpointPublicKey)
    throw new ApiError("TRANSACTION_NOT_FOUND", "no attestation issued for this transaction");
  const fields = {
    endpointKeyId: record.keyMaterialHash,
    vehicleId: record.vehicleId,
    endpointPublicKeyHash: crypto.sha256(record.endpointPublicKey),
    issuedAt,
  };
  if (issuedAt.getTime() !== record.issuedAt.getTime() || !kts.verify(fields, signature)) {
    throw new ApiError("INVALID_ATTESTATION", "the attestation does not verify");
  }
  const now = new Date(clock.now());
  await changes.commit(db, async (tx, changed) => {
    // Transaction, key, attestation: the lock order of docs/operations.md.
    await tx
      .updateTable("pairingTransactions")
      .set({ status: "attested" })
      .where("transactionId", "=", transactionId)
      .execute();
    await tx.updateTable("digitalKeys").set({ attested: true }).where("keyId", "=", record.keyId).execute();
    await tx
      .updateTable("keyAttestations")
      .set({ verified: true })
      .where("keyId", "=", record.keyId)
      .execute();
    changed.add("attestation", record.keyId);
    changed.add("key", record.keyId);
    changed.add("transaction", transactionId);
    const entry = await appendAudit(
      tx,
      crypto,
      {
        actor: `user:${userId}`,
        event: "pairing.attestation_stored",
        vehicleId: record.vehicleId,
        keyId: record.keyId,
        detail: { transactionId },
      },
      now,
    );
    changed.add("audit", entry);
  });
}
