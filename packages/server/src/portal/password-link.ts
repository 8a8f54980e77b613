import { randomUUID } from "node:crypto";
import { toHex, utf8 } from "@pairkit/core";
import { sql } from "kysely";
import { appendAudit } from "../audit/audit-log.ts";
import { ApiError } from "../errors.ts";
import {
  checkPairingEligibility,
  type IssuedPassword,
  requestPairingPassword,
} from "../pairing/password-request.ts";
import { consumeRateLimit } from "../pairing/rate-limit.ts";
import type { Services } from "../services.ts";
import { wrongCredentials } from "./owner-pin.ts";

export interface LinkRequest {
  readonly vin: string;
  /**
   * The owner's e-mail: the one the owner typed (portal), or the one the hotline agent names.
   * The hotline may leave it out when the vehicle has a single owner with a PIN.
   */
  readonly email: string | undefined;
  readonly pin: string;
  readonly replaceExisting: boolean;
  /** The hotline agent acting on the owner's behalf. */
  readonly agentUserId: string | undefined;
  /**
   * Who asks (`ip:<client address>` for the portal, `agent:<id>` for the hotline): the per-VIN
   * request budget is per requester, so a stranger cannot use up the owner's or the hotline's.
   */
  readonly requester: string;
}

/**
 * Seed 000, portal / hotline: VIN + e-mail + owner PIN → an e-mail with a one-time link to
 * `PORTAL_LINK_BASE#token=…`. The PIN check (OwnerPinChecks) costs the same whether or not the VIN
 * and e-mail match an owner.
 */
export async function requestPasswordLink(services: Services, request: LinkRequest): Promise<void> {
  const { db, crypto, clock, config, mailer, changes } = services;
  const now = new Date(clock.now());
  await consumeRateLimit(
    services,
    `portal:vin:${request.vin}:${request.requester}`,
    config.portal.requestsPerVinPerHour,
    3600,
  );

  const owners = await db
    .selectFrom("vehicles")
    .innerJoin("ownerships", "ownerships.vehicleId", "vehicles.id")
    .innerJoin("users", "users.id", "ownerships.userId")
    .select(["vehicles.id as vehicleId", "users.id as userId", "users.email"])
    .where("vehicles.vin", "=", request.vin)
    .where("ownerships.pinHash", "is not", null)
    .$if(request.email !== undefined, (q) =>
      q.where(sql`lower(users.email)`, "=", request.email!.toLowerCase()),
    )
    .orderBy("users.id")
    .limit(2)
    .execute();
  // Only the hotline asks without an e-mail; its agent must say which owner is on the phone.
  if (owners.length > 1) {
    throw new ApiError("BAD_REQUEST", "the vehicle has several owners: name the owner's e-mail");
  }
  const owner = owners[0];
  if (!owner) {
    await services.pinChecks.verifyNoOwner(services, request.pin);
    throw wrongCredentials();
  }
  const actor = request.agentUserId ? `agent:${request.agentUserId}` : `user:${owner.userId}`;
  await services.pinChecks.check(services, owner, request.pin, actor);

  await checkPairingEligibility(services, owner.userId, owner.vehicleId, request.replaceExisting);

  const token = Buffer.from(crypto.randomBytes(32)).toString("base64url");
  const outboxId = randomUUID();
  const link = `${config.portal.linkBase}#token=${token}`;
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
