import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { PairkitError } from "@pairkit/core";
import pg from "pg";
import type { ServerConfig } from "../config.ts";

/** The database is held by a server it cannot be shared with; the message says which and why. */
export class DatabaseInUseError extends PairkitError {
  constructor(message: string) {
    super("DATABASE_IN_USE", message);
  }
}

/** Releases a lease (idempotent). */
export type ReleaseLease = () => Promise<void>;

/**
 * What a server holds on its database while it runs, taken before anything is read or written:
 *
 * - PostgreSQL, development: an exclusive session advisory lock per schema. Two development servers
 *   cannot share a database: each has its own token issuer (tokens of one are 401 at the other) and
 *   its own simulated fleet (the fleets take over each other's MQTT sessions).
 * - PostgreSQL, production: the same lock, shared. Production replicas run side by side (external
 *   issuer, no fleet); a development server is kept off their database and they off its.
 * - PGlite with a data directory: a lock file with the holder's pid, any mode. One process at a
 *   time can open a PGlite directory; a file left by a process that died is taken over.
 */
export async function acquireServerLease(config: ServerConfig): Promise<ReleaseLease> {
  const { database } = config;
  if (database.kind === "postgres") return advisoryLease(database.url, database.schema, config.mode);
  if (database.dataDir !== undefined) return lockFileLease(database.dataDir);
  return async () => {};
}

async function advisoryLease(url: string, schema: string, mode: ServerConfig["mode"]): Promise<ReleaseLease> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const shared = mode === "production";
  const key = `pairkit-server:${schema}`;
  try {
    const { rows } = await client.query<{ held: boolean }>(
      shared
        ? "select pg_try_advisory_lock_shared(hashtext($1)) as held"
        : "select pg_try_advisory_lock(hashtext($1)) as held",
      [key],
    );
    if (!rows[0]?.held) {
      throw new DatabaseInUseError(
        shared
          ? `a development server holds the database schema "${schema}"; production replicas cannot share it with one`
          : `another server holds the database schema "${schema}": development servers cannot share a database ` +
              "(each has its own token issuer and simulated fleet); stop it, use another DATABASE_SCHEMA, " +
              "or run replicas in production mode (docs/operations.md)",
      );
    }
  } catch (error) {
    await client.end();
    throw error;
  }
  // The lock lives as long as this session: a crashed server's lock goes with its connection.
  client.on("error", () => {});
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    await client.end();
  };
}

async function lockFileLease(dataDir: string): Promise<ReleaseLease> {
  // A fresh clone has no ./.pairkit/db yet (openDatabase creates it too, after the lease).
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, "pairkit-server.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, "wx", 0o600);
      await file.writeFile(`${process.pid}\n`);
      await file.close();
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (Number.isSafeInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new DatabaseInUseError(
          `process ${holder} holds the PGlite directory ${dataDir}; one server at a time can open it ` +
            "(stop it, or use PostgreSQL for replicas: docs/operations.md)",
        );
      }
      // Left by a process that is gone: take it over (once; a second EEXIST means a live race).
      await rm(path, { force: true });
    }
  }
  throw new DatabaseInUseError(`another process just took the PGlite directory ${dataDir}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
