import { sql } from "kysely";
import { ApiError } from "../errors.ts";
import type { Services } from "../services.ts";

/** One counted request: the bucket and the window it was counted in. */
export interface RateLimitCharge {
  readonly bucket: string;
  readonly windowStart: Date;
}

/**
 * Fixed-window counter in the database, one atomic upsert per call, so every replica counts
 * against the same window. Throws RATE_LIMITED with the seconds left in the window.
 */
export async function consumeRateLimit(
  { db, clock }: Pick<Services, "db" | "clock">,
  bucket: string,
  limit: number,
  windowSeconds: number,
): Promise<RateLimitCharge> {
  const now = new Date(clock.now());
  const windowOpenedBefore = new Date(now.getTime() - windowSeconds * 1000);
  const row = await db
    .insertInto("rateLimits")
    .values({ bucket, windowStart: now, count: 1 })
    .onConflict((c) =>
      c.column("bucket").doUpdateSet({
        count: sql<number>`case when rate_limits.window_start <= ${windowOpenedBefore} then 1
          else least(rate_limits.count + 1, ${limit + 1}::integer) end`,
        windowStart: sql<Date>`case when rate_limits.window_start <= ${windowOpenedBefore} then ${now}::timestamptz
          else rate_limits.window_start end`,
      }),
    )
    .returning(["count", "windowStart"])
    .executeTakeFirstOrThrow();
  if (row.count > limit) {
    const retryAfter = Math.ceil((row.windowStart.getTime() + windowSeconds * 1000 - now.getTime()) / 1000);
    throw new ApiError("RATE_LIMITED", "too many requests; try again later", {
      retryAfter: Math.max(1, retryAfter),
    });
  }
  return { bucket, windowStart: row.windowStart };
}

/**
 * Gives back a counted request the server refused for its own reasons (SERVER_BUSY) before doing
 * anything. Only in the window it was counted in: a refund never raises a later window's budget.
 */
export async function refundRateLimit({ db }: Pick<Services, "db">, charge: RateLimitCharge): Promise<void> {
  await db
    .updateTable("rateLimits")
    .set((eb) => ({ count: eb("count", "-", 1) }))
    .where("bucket", "=", charge.bucket)
    .where("windowStart", "=", charge.windowStart)
    .where("count", ">", 0)
    .execute();
}
