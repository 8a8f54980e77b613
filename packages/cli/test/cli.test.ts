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
    expect(result.stdout).toContain("crypto-demo");
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
