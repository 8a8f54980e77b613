import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { CamelCasePlugin, Kysely, PostgresDialect, sql } from "kysely";
import { PGliteDialect } from "kysely-pglite-dialect";
import pg from "pg";
import type { DatabaseConfig } from "../config.ts";
import { migrateToLatest } from "./migrations.ts";
import type { Database } from "./schema.ts";

export type Db = Kysely<Database>;

/**
 * Opens the configured database and brings its schema up to date. Both back-ends speak the same
 * SQL through Kysely; PostgreSQL connections are pinned to the configured schema via search_path.
 * `onIdleError` hears PostgreSQL connections that fail while idle in the pool.
 */
export async function openDatabase(
  config: DatabaseConfig,
  onIdleError: (reason: string) => void = () => {},
): Promise<Db> {
  const plugins = [new CamelCasePlugin()];
  let db: Db;
  if (config.kind === "pglite") {
    // PGlite creates only the last path component; a fresh clone has no ./.pairkit yet.
    if (config.dataDir !== undefined) mkdirSync(config.dataDir, { recursive: true });
    const pglite = config.dataDir === undefined ? new PGlite() : new PGlite(config.dataDir);
    db = new Kysely<Database>({ dialect: new PGliteDialect(pglite), plugins });
  } else {
    await ensureSchema(config.url, config.schema);
    const pool = new pg.Pool({
      connectionString: config.url,
      options: `-c search_path=${config.schema}`,
      max: 10,
    });
    // An idle pooled connection that the server ends (restart, failover, pg_terminate_backend) is
    // reported here and dropped from the pool; unheard, the event would end the process. Only the
    // message goes out: pg hangs the whole client, connection parameters and all, on the error.
    pool.on("error", (error: Error & { code?: string }) =>
      onIdleError(`${error.code ?? "error"}: ${error.message}`),
    );
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins });
  }
  try {
    await migrateToLatest(db, config.kind === "postgres" ? config.schema : "public");
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

async function ensureSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // `schema` is a validated identifier (config.ts); quoting keeps it literal.
    await client.query(`create schema if not exists "${schema}"`);
  } finally {
    await client.end();
  }
}

/** Cheap liveness probe for /readyz. */
export async function pingDatabase(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
