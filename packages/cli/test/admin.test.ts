import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openDatabase } from "@pairkit/server";
import { afterAll, describe, expect, it } from "vitest";
import { runAdminBootstrap } from "../src/admin.ts";
import { EXIT, exitCodeFor } from "../src/exit-codes.ts";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pairkit-cli-admin-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("pairkit admin bootstrap", () => {
  const dataDir = join(dir, "db");
  const bootstrap = (...flags: string[]) =>
    spawnSync(tsx, [main, "admin", "bootstrap", ...flags], {
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, PGLITE_DIR: dataDir, DATABASE_URL: "" },
    });

  const sink = () => {
    const chunks: string[] = [];
    const stream = {
      write: (chunk: string) => {
        chunks.push(chunk);
        return true;
      },
    } as NodeJS.WritableStream;
    return { stream, text: () => chunks.join("") };
  };
  const env = { PGLITE_DIR: dataDir };

  it("creates the first administrator from the command line (exit 0), refuses a second (exit 1) and bad input (exit 2)", async () => {
    // The command line, once (a spawn takes long on a loaded machine); the rest in-process.
    const first = bootstrap("--id", "root-admin", "--email", "root@example.com", "--name", "Root");
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toContain("administrator root-admin created");

    const out = sink();
    const second = await runAdminBootstrap(
      env,
      { id: "other-admin", email: "other@example.com", displayName: "Other" },
      out.stream,
    ).catch((e: unknown) => e);
    expect(second).toMatchObject({
      code: "ADMIN_EXISTS",
      message: expect.stringContaining("already exists"),
    });
    expect(exitCodeFor(second)).toBe(EXIT.FAILURE);

    const bad = await runAdminBootstrap(
      env,
      { id: "root admin", email: "root@example.com", displayName: "Root" },
      out.stream,
    ).catch((e: unknown) => e);
    expect(bad).toMatchObject({ message: "admin bootstrap: id: expected 1–64 of A–Z a–z 0–9 _ . @ -" });
    expect(exitCodeFor(bad)).toBe(EXIT.USAGE);
    expect(out.text()).toBe("");

    const db = await openDatabase({ kind: "pglite", dataDir });
    try {
      expect(await db.selectFrom("users").select(["id", "role"]).execute()).toEqual([
        { id: "root-admin", role: "admin" },
      ]);
      expect(await db.selectFrom("auditLog").select(["actor", "event"]).execute()).toEqual([
        { actor: "operator", event: "admin.bootstrapped" },
      ]);
    } finally {
      await db.destroy();
    }
  }, 300_000);
});
