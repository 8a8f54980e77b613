import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { type Db, openDatabase } from "../src/db/database.ts";
import { DatabaseError } from "../src/db/errors.ts";
import { ApiError } from "../src/errors.ts";
import { databaseBackends } from "./support/databases.ts";

const backends = await databaseBackends();
// Short enough that PostgreSQL quotes it whole (it cuts each value in a DETAIL at 64 bytes).
const LINK_TOKEN = "Zq8sTzR1tvN2p0wQ5yXc";

/** The log lines a real logger writes for `err`, as text and parsed. */
function logged(err: unknown): { text: string; line: Record<string, unknown> } {
  const lines: string[] = [];
  const log = createLogger(loadConfig({ LOG_LEVEL: "info" }), { write: (l: string) => void lines.push(l) });
  // As request handlers log: through a child logger.
  log.child({ reqId: "req-1" }).error({ err }, "request failed");
  expect(lines).toHaveLength(1);
  return { text: lines[0]!, line: JSON.parse(lines[0]!) };
}

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected the statement to fail");
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `database errors in logs on ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`,
    () => {
      let db: Db;
      beforeAll(async () => {
        db = await openDatabase(backend.fresh());
      });
      afterAll(async () => {
        await db?.destroy();
        await backend.cleanup();
      });

      it("a failed outbox insert is logged with its SQLSTATE, table and column, never the row (the one-time link)", async () => {
        const error = await failure(() =>
          db
            .insertInto("emailOutbox")
            .values({
              id: randomUUID(),
              recipient: null as unknown as string,
              subject: "Your digital key pairing link",
              body: `https://p.example/r#t=${LINK_TOKEN}`,
              createdAt: new Date(),
              sentAt: null,
            })
            .execute(),
        );
        // The driver's error does carry the row: this is what must not reach the log.
        expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).toContain(LINK_TOKEN);
        for (const err of [
          error,
          new DatabaseError("outbox insert failed", { cause: error }),
          new ApiError("SERVER_BUSY", "busy", { cause: new DatabaseError("wrapped", { cause: error }) }),
        ]) {
          const { text, line } = logged(err);
          expect(text).not.toContain(LINK_TOKEN);
          expect(text).not.toContain("p.example");
          expect(text).toMatch(/"code":"23502"/);
          expect(text).toMatch(/"table":"email_outbox"/);
          expect(text).toMatch(/"column":"recipient"/);
          expect(line.msg).toBe("request failed");
        }
      });

      it("a data exception is logged without the input it quotes", async () => {
        const secret = "not-a-uuid-but-a-secret-4711";
        const error = await failure(() => sql`select ${secret}::uuid`.execute(db));
        expect((error as Error).message).toContain(secret);
        const { text, line } = logged(error);
        expect(text).not.toContain(secret);
        expect(line.err).toMatchObject({ code: "22P02", message: "data exception (SQLSTATE 22P02)" });
      });

      it("a missing row (Kysely's NoResultError) is logged without the query's values", async () => {
        const secret = "token-hash-0f9e8d7c6b5a";
        const error = await failure(() =>
          db.selectFrom("portalTokens").selectAll().where("tokenHash", "=", secret).executeTakeFirstOrThrow(),
        );
        const { text, line } = logged(error);
        expect(text).not.toContain(secret);
        expect(line.err).toMatchObject({ type: "NoResultError", message: "no result" });
      });
    },
  );
}

describe("other errors in logs", () => {
  it("keeps an error's code and plain fields and its cause chain", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
      code: "ECONNREFUSED",
      port: 5432,
    });
    const { line } = logged(new ApiError("SERVER_BUSY", "busy", { retryAfter: 3, cause }));
    expect(line.err).toMatchObject({
      type: "ApiError",
      message: "busy",
      code: "SERVER_BUSY",
      status: 503,
      retryAfter: 3,
      cause: { type: "Error", code: "ECONNREFUSED", port: 5432 },
    });
  });
});
