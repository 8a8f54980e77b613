import type { Crypto, ScryptParams } from "@pairkit/core";
import { sql } from "kysely";
import { appendAudit } from "../audit/audit-log.ts";
import { hashLowEntropySecret, verifyLowEntropySecret } from "../auth/secret-hash.ts";
import { ApiError } from "../errors.ts";
import type { Services } from "../services.ts";

/** Same answer for an unknown VIN, a wrong e-mail and a wrong PIN: nothing tells them apart. */
export const wrongCredentials = () => new ApiError("PIN_INVALID", "VIN, e-mail or owner PIN not recognised");

export interface Ownership {
  readonly userId: string;
  readonly vehicleId: string;
}

/**
 * Owner PIN checks of the portal and the hotline. Three properties:
 *
 * - A try is reserved (counted) *before* the slow hash is checked, so parallel guesses cannot
 *   outrun the lockout; a correct PIN resets the count.
 * - Checks of one ownership run one after another in this process, so tries in flight never fill
 *   the budget: 40 parallel requests with the correct PIN all pass instead of locking each other
 *   out. (Across replicas a full budget with no lock is answered RATE_LIMITED, retry in 1 s.)
 * - No match (unknown VIN, wrong e-mail) costs the same scrypt work as a real check, against a
 *   dummy hash with the configured parameters, so the reply time does not tell which e-mail owns
 *   which VIN.
 */
export class OwnerPinChecks {
  readonly #tails = new Map<string, Promise<unknown>>();
  readonly #dummyHash: string;

  private constructor(dummyHash: string) {
    this.#dummyHash = dummyHash;
  }

  /**
   * Hashes the dummy once at startup with the parameters owner PINs are hashed with (admin
   * registration uses the same), so that the first unmatched request is not the slower one.
   */
  static async create(crypto: Crypto, params: ScryptParams): Promise<OwnerPinChecks> {
    // A secret nobody can type: a PIN has only digits.
    const secret = Buffer.from(crypto.randomBytes(16)).toString("base64");
    return new OwnerPinChecks(await hashLowEntropySecret(crypto, secret, params));
  }

  /** Verifies `pin` against nothing anyone owns, as slowly as a real check. */
  async verifyNoOwner(services: Services, pin: string): Promise<void> {
    await services.derivation.run(() => verifyLowEntropySecret(services.crypto, pin, this.#dummyHash));
  }

  /** Checks `pin` for the ownership; throws PIN_INVALID or PIN_LOCKED (audited) when it fails. */
  check(services: Services, owner: Ownership, pin: string, actor: string): Promise<void> {
    return this.#serialized(`${owner.userId}\u0000${owner.vehicleId}`, () =>
      checkOwnerPin(services, owner, pin, actor),
    );
  }

  /** Runs jobs with the same key one after another, jobs with different keys at once. */
  async #serialized<T>(key: string, job: () => Promise<T>): Promise<T> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(job);
    const tail = result.catch(() => {});
    this.#tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

async function checkOwnerPin(services: Services, owner: Ownership, pin: string, actor: string) {
  const { db, crypto, clock, config, changes } = services;
  const now = new Date(clock.now());
  const max = config.portal.pinMaxFailures;
  const reserved = await db
    .updateTable("ownerships")
    .set({
      pinFailures: sql<number>`case when pin_locked_until is not null then 1 else pin_failures + 1 end`,
      pinLockedUntil: null,
    })
    .where("userId", "=", owner.userId)
    .where("vehicleId", "=", owner.vehicleId)
    .where((eb) =>
      eb.or([
        eb.and([eb("pinLockedUntil", "is", null), eb("pinFailures", "<", max)]),
        eb("pinLockedUntil", "<=", now),
      ]),
    )
    .returning(["pinFailures", "pinHash"])
    .executeTakeFirst();
  if (!reserved) {
    const state = await db
      .selectFrom("ownerships")
      .select("pinLockedUntil")
      .where("userId", "=", owner.userId)
      .where("vehicleId", "=", owner.vehicleId)
      .executeTakeFirstOrThrow();
    if (state.pinLockedUntil === null) {
      // Not locked: the budget is held by tries in flight on other replicas. Not a lockout.
      throw new ApiError("RATE_LIMITED", "another owner PIN check is in progress; try again", {
        retryAfter: 1,
      });
    }
    throw new ApiError("PIN_LOCKED", "too many wrong PINs; try again later", {
      retryAfter: Math.max(1, Math.ceil((state.pinLockedUntil.getTime() - now.getTime()) / 1000)),
    });
  }

  let correct: boolean;
  try {
    correct = await services.derivation.run(() => verifyLowEntropySecret(crypto, pin, reserved.pinHash!));
  } catch (error) {
    // The PIN was never checked (derivation queue full): the try is given back.
    await db
      .updateTable("ownerships")
      .set({ pinFailures: sql<number>`greatest(pin_failures - 1, 0)` })
      .where("userId", "=", owner.userId)
      .where("vehicleId", "=", owner.vehicleId)
      .where("pinLockedUntil", "is", null)
      .execute();
    throw error;
  }
  if (correct) {
    await db
      .updateTable("ownerships")
      .set({ pinFailures: 0 })
      .where("userId", "=", owner.userId)
      .where("vehicleId", "=", owner.vehicleId)
      .execute();
    return;
  }

  const lock = reserved.pinFailures >= max;
  await changes.commit(db, async (tx, changed) => {
    if (lock) {
      await tx
        .updateTable("ownerships")
        .set({ pinLockedUntil: new Date(now.getTime() + config.portal.pinLockoutSeconds * 1000) })
        .where("userId", "=", owner.userId)
        .where("vehicleId", "=", owner.vehicleId)
        .execute();
    }
    changed.add(
      "audit",
      await appendAudit(
        tx,
        crypto,
        {
          actor,
          event: lock ? "portal.pin_locked" : "portal.pin_wrong",
          vehicleId: owner.vehicleId,
          detail: { failures: reserved.pinFailures },
        },
        now,
      ),
    );
  });
  if (lock) {
    throw new ApiError("PIN_LOCKED", "too many wrong PINs; try again later", {
      retryAfter: config.portal.pinLockoutSeconds,
    });
  }
  throw wrongCredentials();
}
