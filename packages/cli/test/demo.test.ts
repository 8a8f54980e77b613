import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { schnorr } from "@noble/curves/secp256k1.js";
import { checkFrameTrace, decodeFrameTrace } from "@pairkit/ble";
import { afterAll, describe, expect, it } from "vitest";
import type { DemoReport } from "../src/demo.ts";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
/** What `npx pairkit` runs: the package's executable. */
const bin = fileURLToPath(new URL("../../../node_modules/.bin/pairkit", import.meta.url));
const run = (...args: string[]) => spawnSync(tsx, [main, ...args], { encoding: "utf8", timeout: 180_000 });
const dir = mkdtempSync(join(tmpdir(), "pairkit-demo-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("pairkit demo --json, then pairkit trace on its traces", () => {
  it("prints one JSON document in which every scenario passed, with phase timings and frame traces", () => {
    const result = spawnSync(bin, ["demo", "--json", "--scrypt-n", "1024"], {
      encoding: "utf8",
      timeout: 180_000,
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as DemoReport; // exactly one document: parses whole
    expect(report).toMatchObject({ format: "pairkit.demo", version: 1, ok: true });
    expect(report.scrypt).toMatchObject({ N: 1024, note: expect.stringMatching(/reduced/) });
    expect(report.scenarios.map((s) => [s.name, s.outcome])).toEqual([
      ["app-pairing", "passed"],
      ["portal-pairing", "passed"],
      ["wrong-password", "passed"],
      ["revoked-key", "passed"],
      ["active-card", "passed"],
      ["mpc-wallet", "passed"],
    ]);
    for (const scenario of report.scenarios) {
      for (const phase of scenario.phases) {
        expect(phase.outcome).toBe("passed");
        expect(phase.ms).toBeGreaterThanOrEqual(0);
      }
    }
    const wrong = report.scenarios[2]!.phases[1]!;
    expect(wrong.detail).toMatch(/refused \(CONFIRMATION_FAILED\); 4 of 5 attempts left/);
    expect(report.scenarios[3]!.phases.at(-1)!.detail).toMatch(/^denied/);
    expect(result.stdout).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/); // no token
    expect(result.stdout).not.toMatch(/"pairingPassword"|#token=/); // no password, no link token

    // Each trace is a valid trace document; the owner one shows the handshake, the card one its events.
    const app = decodeFrameTrace(checkFrameTrace(report.scenarios[0]!.trace));
    const names = app.entries.flatMap((e) => (e.message ? [e.message.name] : []));
    expect(names).toEqual(expect.arrayContaining(["SPAKE2_REQUEST", "SPAKE2_RESPONSE", "TXN_RESULT"]));
    const card = decodeFrameTrace(checkFrameTrace(report.scenarios[4]!.trace));
    expect(card.entries.some((e) => e.message?.name === "FORGET_DEVICE")).toBe(true);

    // The wallet's key, message and signature verify with noble's BIP340 verifier, nothing of pairkit's.
    const wallet = report.scenarios[5]!;
    expect(wallet.evidence).toMatchObject({
      ciphersuite: "secp256k1-taproot",
      publicKeyFormat: "BIP340 x-only",
    });
    const { publicKey, message, signature } = wallet.evidence as Record<string, string>;
    const [sig, key] = [Buffer.from(signature!, "hex"), Buffer.from(publicKey!, "hex")];
    expect(schnorr.verify(sig, Buffer.from(message!), key)).toBe(true);
    expect(schnorr.verify(sig, Buffer.from(`${message}!`), key)).toBe(false);
    expect(wallet.phases.at(-1)!.detail).toBe("refused (UNKNOWN_WALLET)");
    const mpc = decodeFrameTrace(checkFrameTrace(wallet.trace));
    expect(mpc.entries.map((e) => e.message?.name)).toEqual(
      expect.arrayContaining(["MPC_DKG_START", "MPC_SIGN_SHARE", "FORGET_DEVICE"]),
    );

    const file = join(dir, "app-pairing.json");
    writeFileSync(file, JSON.stringify(report.scenarios[0]!.trace));
    const listing = run("trace", file);
    expect(listing.status).toBe(0);
    expect(listing.stdout).toMatch(/= SPAKE2_REQUEST attemptRemaining 5/);
    expect(listing.stdout).toMatch(/= DEVICE_CONFIG sealed \(link\) counter 0/);
    const mermaid = run("trace", file, "--mermaid");
    expect(mermaid.status).toBe(0);
    expect(mermaid.stdout).toMatch(
      /^sequenceDiagram\n {2}participant phone as Phone\n {2}participant p1 as vehicle VH-DEMO-1\n/,
    );
    expect(mermaid.stdout).toContain("phone->>p1: TXN_START");
  }, 240_000);

  it("a bad --scrypt-n is a usage error (exit 2) naming the setting", () => {
    const result = run("demo", "--json", "--scrypt-n", "1000");
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^pairkit: SCRYPT_N\/R\/P: .*power of two/);
  });

  it("pairkit trace: a malformed trace is exit 1, a missing file exit 2, each one line", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ format: "pairkit.frame-trace", version: 9 }));
    const malformed = run("trace", bad);
    expect([malformed.status, malformed.stderr]).toEqual([
      1,
      "pairkit: $.version: version 9; this reader understands 1\n",
    ]);
    const missing = run("trace", join(dir, "nope.json"));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^pairkit: FILE: cannot read .*nope\.json: ENOENT\n$/);
  });
});
