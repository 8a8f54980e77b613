import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, describe, expect, it } from "vitest";
import type { DatabaseConfig } from "../src/config.ts";
import { DatabaseInUseError } from "../src/db/server-lease.ts";
import { databaseBackends } from "./support/databases.ts";
import { productionEnv, startTestServer } from "./support/server.ts";

const postgres = (await databaseBackends()).find((b) => b.name === "postgres")!;
const production = productionEnv("https://id.example.test/jwks.json");

describe.skipIf(postgres.skip !== undefined)("servers sharing a PostgreSQL schema", () => {
  afterAll(() => postgres.cleanup());

  it("refuses a second development server, and development beside production, naming the problem", async () => {
    const database: DatabaseConfig = postgres.fresh();
    const servers: FastifyInstance[] = [];
    try {
      const first = await startTestServer(database);
      servers.push(first);
      const second = startTestServer(database);
      await expect(second).rejects.toBeInstanceOf(DatabaseInUseError);
      await expect(second).rejects.toThrow(
        /another server holds the database schema "t_\w+": development servers cannot share a database/,
      );
      await expect(startTestServer(database, production)).rejects.toThrow(/a development server holds/);
      await servers.pop()!.close();

      // Production replicas share it; a development server stays off it while they run.
      servers.push(await startTestServer(database, production));
      servers.push(await startTestServer(database, production));
      await expect(startTestServer(database)).rejects.toBeInstanceOf(DatabaseInUseError);
    } finally {
      for (const server of servers) await server.close();
    }
  });
});

describe("a PGlite directory", () => {
  const dir = mkdtempSync(join(tmpdir(), "pairkit-lease-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is opened by one server at a time; a lock left by a dead process is taken over", async () => {
    // A directory that does not exist yet, as on a fresh clone.
    const database: DatabaseConfig = { kind: "pglite", dataDir: join(dir, "db") };
    const first = await startTestServer(database);
    try {
      await expect(startTestServer(database)).rejects.toThrow(
        new RegExp(`process ${process.pid} holds the PGlite directory`),
      );
    } finally {
      await first.close();
    }
    // A server killed without closing leaves its lock file behind.
    const dead = spawnSync(process.execPath, ["-e", "process.exit(0)"]).pid;
    writeFileSync(join(dir, "db", "pairkit-server.lock"), `${dead}\n`);
    const next = await startTestServer(database);
    await next.close();
    // Three on-disk PGlite starts, each migrating: slow on a loaded machine.
  }, 300_000);
});
