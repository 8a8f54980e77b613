import { type Crypto, PairkitError } from "@pairkit/core";
import { sql } from "kysely";
import { appendAudit } from "../audit/audit-log.ts";
import type { Db } from "../db/database.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { runTransaction } from "../db/transaction.ts";

/** The first administrator could not be created; `code` says why. */
export class AdminBootstrapError extends PairkitError {
  constructor(code: "ADMIN_EXISTS" | "USER_EXISTS" | "INVALID_ADMIN", message: string) {
    super(code, message);
  }
}

export interface FirstAdministrator {
  /** The `sub` of the administrator's tokens at the identity provider. */
  readonly id: string;
  readonly email: string;
  readonly displayName: string;
}

/** Serializes bootstraps across processes: the check and the insert see one state. */
const BOOTSTRAP_LOCK = 0x706b_6164; // "pkad"

/**
 * Creates a deployment's first administrator, who then registers everyone else through
 * `POST /admin/users`. Refused once any administrator exists, so the command cannot be used to
 * add a second one behind the admins' backs; audited as `admin.bootstrapped` by `operator`. A
 * transaction-level advisory lock makes two runs at once create one administrator; like every
 * transaction beside a running server it is re-run on a deadlock (db/transaction.ts).
 */
export async function bootstrapAdministrator(
  db: Db,
  crypto: Crypto,
  admin: FirstAdministrator,
  now: Date,
): Promise<void> {
  // The same rules as POST /admin/users (NewUserBody), which this command stands in for.
  if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(admin.id))
    throw new AdminBootstrapError("INVALID_ADMIN", "id: expected 1–64 of A–Z a–z 0–9 _ . @ -");
  if (admin.email.length > 254 || !/^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u.test(admin.email))
    throw new AdminBootstrapError("INVALID_ADMIN", "email: not an e-mail address");
  if (!/^[^\p{Cc}]{1,100}$/u.test(admin.displayName))
    throw new AdminBootstrapError("INVALID_ADMIN", "name: expected 1–100 characters, no control characters");

  await runTransaction(db, async (tx) => {
    await sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`.execute(tx);
    const existing = await tx.selectFrom("users").select("id").where("role", "=", "admin").executeTakeFirst();
    if (existing) {
      throw new AdminBootstrapError(
        "ADMIN_EXISTS",
        "an administrator already exists; administrators add others with POST /admin/users",
      );
    }
    await tx
      .insertInto("users")
      .values({
        id: admin.id,
        email: admin.email,
        displayName: admin.displayName,
        role: "admin",
        createdAt: now,
      })
      .execute()
      .catch((error: unknown) => {
        if (isUniqueViolation(error))
          throw new AdminBootstrapError("USER_EXISTS", "a user with this id or e-mail already exists");
        throw error;
      });
    await appendAudit(
      tx,
      crypto,
      { actor: "operator", event: "admin.bootstrapped", vehicleId: null, detail: { userId: admin.id } },
      now,
    );
  });
}
