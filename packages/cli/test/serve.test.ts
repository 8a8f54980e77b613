import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "pairkit-serve-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function start(extraEnv: Record<string, string>) {
  const child = spawn(tsx, [main, "serve", "--port", "0", "--radio-port", "0"], {
    env: {
      ...process.env,
      PGLITE_DIR: join(dataDir, "db"),
      MQTT_PORT: "0",
      SMTP_SINK_PORT: "0",
      ...extraEnv,
    },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /HTTP API\s+(http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearInterval(timer);
        resolve(match[1]!);
      }
    }, 100);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`exited ${code}: ${stderr}`));
    });
  });
  return { child, ready, exited, output: () => stdout + stderr };
}

describe("pairkit serve", () => {
  it("serves /healthz, mints a demo token, and stops cleanly on SIGINT", async () => {
    const server = start({});
    const url = await server.ready;
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" });
    const token = await fetch(`${url}/dev/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId: "alice" }),
    });
    expect(token.status).toBe(200);
    server.child.kill("SIGINT");
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain("stopping");
    expect(server.output()).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/); // the token never reaches the log
  });

  it("a bad configuration value is one clear line and exit code 2", async () => {
    const server = start({ PAIRKIT_MODE: "staging" });
    await expect(server.ready).rejects.toThrow(/PAIRKIT_MODE/);
    const code = await server.exited;
    expect(code).toBe(2);
    expect(server.output()).toMatch(/PAIRKIT_MODE/);
  });
});
