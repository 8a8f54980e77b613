import { randomBytes } from "node:crypto";
import pg from "pg";
import type { DatabaseConfig } from "../../src/config.ts";

/** Test-only: where the integration suites find PostgreSQL (trust auth on CI and dev machines). */
export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface DatabaseBackend {
  readonly name: string;
  /** A fresh, isolated database config: PGlite in memory, or a new Postgres schema. */
  fresh(): DatabaseConfig;
  /** Drops what `fresh` created. */
  cleanup(): Promise<void>;
  /** Why the back-end is skipped, when it is. */
  readonly skip: string | undefined;
}

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * PGlite always; PostgreSQL when reachable. On CI (CI set) an unreachable Postgres fails the run
 * instead of skipping, so the Postgres path can never silently go untested there.
 */
export async function databaseBackends(): Promise<DatabaseBackend[]> {
  const schemas: string[] = [];
  const reachable = await postgresReachable();
  if (!reachable && process.env.CI) throw new Error(`CI: PostgreSQL is not reachable at ${POSTGRES_URL}`);
  return [
    {
      name: "pglite",
      fresh: () => ({ kind: "pglite", dataDir: undefined }),
      cleanup: async () => {},
      skip: undefined,
    },
    {
      name: "postgres",
      skip: reachable ? undefined : `PostgreSQL not reachable at ${POSTGRES_URL} (set CI to make this fatal)`,
      fresh() {
        const schema = `t_${process.pid}_${randomBytes(4).toString("hex")}`;
        schemas.push(schema);
        return { kind: "postgres", url: POSTGRES_URL, schema };
      },
      async cleanup() {
        if (schemas.length === 0) return;
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        try {
          for (const schema of schemas.splice(0))
            await client.query(`drop schema if exists "${schema}" cascade`);
        } finally {
          await client.end();
        }
      },
    },
  ];
}
