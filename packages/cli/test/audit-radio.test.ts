import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openRadioCentral } from "@pairkit/ble";
import { nodeCrypto } from "@pairkit/core/node";
import { appendAudit, openDatabase } from "@pairkit/server";
import { afterAll, describe, expect, it } from "vitest";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pairkit-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("pairkit audit verify", () => {
  const dataDir = join(dir, "db");
  const verify = () =>
    spawnSync(tsx, [main, "audit", "verify"], {
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, PGLITE_DIR: dataDir, DATABASE_URL: "" },
    });

  it("reports an intact chain (exit 0), then the first tampered entry (exit 1)", async () => {
    let db = await openDatabase({ kind: "pglite", dataDir });
    for (const event of ["test.first", "test.second"]) {
      await db
        .transaction()
        .execute((tx) => appendAudit(tx, nodeCrypto, { actor: "system", event }, new Date()));
    }
    await db.destroy();
    const intact = verify();
    expect(intact.stdout).toMatch(/audit chain intact: 2 entries/);
    expect(intact.status).toBe(0);

    db = await openDatabase({ kind: "pglite", dataDir });
    await db.updateTable("auditLog").set({ actor: "intruder" }).where("seq", "=", 1).execute();
    await db.destroy();
    const broken = verify();
    expect(broken.stdout).toMatch(/BROKEN at entry 1/);
    expect(broken.status).toBe(1);
  });
});

describe("pairkit radio", () => {
  it("prints its URL, lets a central join the air, and stops on SIGINT", async () => {
    const child = spawn(tsx, [main, "radio", "--port", "0"]);
    let stdout = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    const url = await new Promise<string>((resolve) => {
      const timer = setInterval(() => {
        const match = /(ws:\/\/\S+)/.exec(stdout);
        if (match) {
          clearInterval(timer);
          resolve(match[1]!);
        }
      }, 50);
    });
    const central = await openRadioCentral(url);
    await central.close();
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});
