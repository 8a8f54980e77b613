import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
const run = (...args: string[]) => spawnSync(tsx, [main, ...args], { encoding: "utf8", timeout: 60_000 });

describe("pairkit command", () => {
  it("--help lists the commands and exits 0", () => {
    const result = run("--help");
    expect(result.status).toBe(0);
    for (const command of [
      "serve",
      "demo",
      "vehicle",
      "card",
      "card-pair",
      "card-reconnect",
      "card-forget",
      "pair",
      "unlock",
      "radio",
      "audit",
      "trace",
      "crypto-demo",
    ]) {
      expect(result.stdout).toContain(`  ${command}`);
    }
  });

  it("every command has --help (exit 0) naming its flags and their environment variables", () => {
    const pair = run("pair", "--help");
    expect(pair.status).toBe(0);
    expect(pair.stdout).toMatch(/--server <url>.*PAIRKIT_SERVER_URL/);
    const demo = run("demo", "--help");
    expect(demo.status).toBe(0);
    expect(demo.stdout).toMatch(/--json/);
  });

  it("a bad value in the environment is a usage error naming the variable, never echoing the value", () => {
    const result = spawnSync(tsx, [main, "pair", "--vehicle", "VH-DEMO-1"], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, PAIRKIT_SERVER_URL: "secret-looking-value" },
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe("pairkit: PAIRKIT_SERVER_URL: not a URL\n");
  });

  it("an unknown command is a usage error (exit 2) with one clear line", () => {
    const result = run("frobnicate");
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });

  it("crypto-demo agrees on a key with both back-ends and prints no secret", () => {
    const result = run("crypto-demo");
    expect(result.status).toBe(0);
    expect(result.stdout.match(/both sides hold K_shared: yes/g)).toHaveLength(2);
    expect(result.stdout).not.toMatch(/password/i);
  });
});
