import { type Crypto, toHex } from "@pairkit/core";
import { hashRandomSecret, verifyRandomSecret } from "../auth/secret-hash.ts";
import type { Db } from "../db/database.ts";
import { ApiError } from "../errors.ts";

/**
 * Issues a fresh MQTT password for a vehicle (replacing the old one) and returns it once; only
 * its hash is stored. The username is the vehicle id, the client id `vehicle-<id>`.
 */
export async function issueVehicleCredential(db: Db, crypto: Crypto, vehicleId: string): Promise<string> {
  const password = toHex(crypto.randomBytes(32));
  const result = await db
    .updateTable("vehicles")
    .set({ mqttSecretHash: hashRandomSecret(crypto, password) })
    .where("id", "=", vehicleId)
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) throw new ApiError("NOT_FOUND", "no such vehicle");
  return password;
}

export async function authenticateVehicle(
  db: Db,
  crypto: Crypto,
  vehicleId: string,
  password: Uint8Array,
): Promise<boolean> {
  const vehicle = await db
    .selectFrom("vehicles")
    .select("mqttSecretHash")
    .where("id", "=", vehicleId)
    .executeTakeFirst();
  if (!vehicle?.mqttSecretHash) return false;
  return verifyRandomSecret(crypto, password, vehicle.mqttSecretHash);
}
