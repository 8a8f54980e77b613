import { randomUUID } from "node:crypto";
import { toHex, utf8 } from "@pairkit/core";
import { sql } from "kysely";
import { appendAudit } from "../audit/audit-log.ts";
import { verifyLowEntropySecret } from "../auth/secret-hash.ts";
import { ApiError } from "../errors.ts";
import {
  checkPairingEligibility,
  type IssuedPassword,
  requestPairingPassword,
} from "../pairing/password-request.ts";
import { consumeRateLimit } from "../pairing/rate-limit.ts";
import type { Services } from "../services.ts";

export interface LinkRequest {
  readonly vin: string;
  /** Portal: the e-mail the owner typed, which must be the one on file. Hotline: undefined. */
  readonly email: string | undefined;
  readonly pin: string;
  readonly replaceExisting: boolean;
  /** The hotline agent acting on the owner's behalf. */
  readonly agentUserId: string | undefined;
}

/** Same answer for an unknown VIN, a wrong e-mail and a wrong PIN: nothing tells them apart. */
const wrongCredentials = () => new ApiError("PIN_INVALID", "VIN, e-mail or owner PIN not recognised");

/**
 * Seed 000, portal / hotline: VIN + e-mail + owner PIN → an e-mail with a one-time link. A PIN try
 * is reserved (counted) *before* the slow hash is checked, so parallel guesses cannot outrun the
 * lockout; a correct PIN resets the count.
 */
export async function requestPasswordLink(services: Services, request: LinkRequest): Promise<void> {
  const { db, crypto, clock, config, mailer, changes } = services;
  const now = new Date(clock.now());
  await consumeRateLimit(services, `portal:vin:${request.vin}`, config.portal.requestsPerVinPerHour, 3600);

  const owner = await db
    .selectFrom("vehicles")
    .innerJoin("ownerships", "ownerships.vehicleId", "vehicles.id")
    .innerJoin("users", "users.id", "ownerships.userId")
    .select(["vehicles.id as vehicleId", "users.id as userId", "users.email"])
    .where("vehicles.vin", "=", request.vin)
    .where("ownerships.pinHash", "is not", null)
    .$if(request.email !== undefined, (q) =>
      q.where(sql`lower(users.email)`, "=", request.email!.toLowerCase()),
    )
    .executeTakeFirst();
  if (!owner) throw wrongCredentials();

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
    const until = state.pinLockedUntil?.getTime() ?? now.getTime() + 1000;
    throw new ApiError("PIN_LOCKED", "too many wrong PINs; try again later", {
      retryAfter: Math.max(1, Math.ceil((until - now.getTime()) / 1000)),
    });
  }

  const actor = request.agentUserId ? `agent:${request.agentUserId}` : `user:${owner.userId}`;
  if (!(await verifyLowEntropySecret(crypto, request.pin, reserved.pinHash!))) {
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
  await db
    .updateTable("ownerships")
    .set({ pinFailures: 0 })
    .where("userId", "=", owner.userId)
    .where("vehicleId", "=", owner.vehicleId)
    .execute();

  await checkPairingEligibility(services, owner.userId, owner.vehicleId, request.replaceExisting);

  const token = Buffer.from(crypto.randomBytes(32)).toString("base64url");
  const outboxId = randomUUID();
  const link = `${config.publicUrl}/portal/redeem#token=${token}`;
  await changes.commit(db, async (tx, changed) => {
    await tx
      .insertInto("portalTokens")
      .values({
        tokenHash: tokenHash(services, token),
        userId: owner.userId,
        vehicleId: owner.vehicleId,
        channel: request.agentUserId ? "hotline" : "portal",
        agentUserId: request.agentUserId ?? null,
        replaceExisting: request.replaceExisting,
        createdAt: now,
        expiresAt: new Date(now.getTime() + config.portal.linkTtlSeconds * 1000),
        redeemedAt: null,
      })
      .execute();
    await tx
      .insertInto("emailOutbox")
      .values({
        id: outboxId,
        recipient: owner.email,
        subject: "Your digital key pairing link",
        body: [
          "Open this link on the phone you want to pair with your vehicle.",
          `It works once, within ${Math.round(config.portal.linkTtlSeconds / 60)} minutes:`,
          "",
          link,
          "",
          "If you did not ask for it, ignore this message; nothing changes.",
        ].join("\n"),
        createdAt: now,
        sentAt: null,
      })
      .execute();
    changed.add(
      "audit",
      await appendAudit(
        tx,
        crypto,
        {
          actor,
          event: "portal.link_sent",
          vehicleId: owner.vehicleId,
          detail: { channel: request.agentUserId ? "hotline" : "portal" },
        },
        now,
      ),
    );
  });
  await mailer
    .deliver(outboxId)
    .catch((err: unknown) =>
      services.log.warn({ err, outboxId }, "e-mail not sent yet; it stays in the outbox"),
    );
}

function tokenHash({ crypto }: Pick<Services, "crypto">, token: string): string {
  return toHex(crypto.sha256(utf8(token)));
}

/**
 * Redeems a link once: one conditional UPDATE marks it used only if it is unused and unexpired, so
 * a replayed or raced link never yields a second password. Then the ordinary password request.
 */
export async function redeemPasswordLink(
  services: Services,
  token: string,
): Promise<IssuedPassword & { vehicleId: string }> {
  const now = new Date(services.clock.now());
  const link = await services.db
    .updateTable("portalTokens")
    .set({ redeemedAt: now })
    .where("tokenHash", "=", tokenHash(services, token))
    .where("redeemedAt", "is", null)
    .where("expiresAt", ">", now)
    .returning(["userId", "vehicleId", "channel", "replaceExisting"])
    .executeTakeFirst();
  if (!link) throw new ApiError("LINK_INVALID", "this link was already used or has expired");
  const issued = await requestPairingPassword(services, {
    userId: link.userId,
    vehicleId: link.vehicleId,
    deviceInfo: null,
    replaceExisting: link.replaceExisting,
    channel: link.channel,
    actor: `user:${link.userId}`,
  });
  return { ...issued, vehicleId: link.vehicleId };
}
