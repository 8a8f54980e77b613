import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { schnorr } from "@noble/curves/secp256k1.js";
import { type RadioServer, startRadioServer } from "@pairkit/ble/node";
import { afterEach, describe, expect, it } from "vitest";

const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));

let server: RadioServer | undefined;
let card: ChildProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (card?.exitCode === null) card.kill();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runCli(args: string[]) {
  const run = spawn(tsx, [main, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  run.stdout!.on("data", (d) => {
    stdout += d;
  });
  run.stderr!.on("data", (d) => {
    stderr += d;
  });
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
    run.on("exit", (status) => resolve({ status, stdout, stderr })),
  );
}

/** `pairkit card` on the radio; resolves once it advertises. */
function startCard(args: string[]): Promise<void> {
  card = spawn(tsx, [main, "card", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  return new Promise((resolve, reject) => {
    card!.stdout!.on("data", (d) => {
      stdout += d;
      if (stdout.includes("ready")) resolve();
    });
    card!.on("exit", (code) => reject(new Error(`card process exited ${code}`)));
  });
}

describe("pairkit wallet create | sign | verify | list against a card process on the radio", () => {
  it("creates a Taproot wallet with a card-pair'ed card, signs, and the signature verifies (noble and wallet verify); a wrong message exits 1", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
    dir = mkdtempSync(join(tmpdir(), "pairkit-wallet-"));
    const qrPath = join(dir, "qr.png");
    const cardState = join(dir, "card.json");
    await startCard([
      "--radio",
      server.url,
      "--state",
      cardState,
      "--name",
      "AC-Bob",
      "--owner",
      "bob",
      "--qr-png",
      qrPath,
    ]);
    const phone = ["--radio", server.url, "--store", join(dir, "phone-cards.json")];
    const paired = await runCli(["card-pair", ...phone, "--qr", qrPath, "--user", "bob"]);
    expect(paired.status).toBe(0);
    const deviceId = /paired with card (\S+);/.exec(paired.stdout)![1]!;

    const created = await runCli([
      "wallet",
      "create",
      ...phone,
      "--card",
      deviceId,
      "--suite",
      "secp256k1-taproot",
      "--label",
      "savings",
    ]);
    expect([created.status, created.stderr]).toEqual([0, ""]);
    const walletId = /^wallet ([0-9a-f]{32}) \(secp256k1-taproot, 2-of-2, "savings"\)$/m.exec(
      created.stdout,
    )![1]!;
    const publicKey = /^public key \(BIP340 x-only\): ([0-9a-f]{64})$/m.exec(created.stdout)![1]!;
    // The card's flash holds the other share of the same group key.
    const cardWallets = JSON.parse(readFileSync(cardState, "utf8")).wallets as unknown[];
    expect(JSON.stringify(cardWallets)).toContain(publicKey);

    const listed = await runCli(["wallet", "list", "--store", join(dir, "phone-cards.json")]);
    expect([listed.status, listed.stdout]).toEqual([0, expect.stringContaining(`wallet ${walletId}`)]);
    // The phone's shares are encrypted at rest.
    expect(readFileSync(join(dir, "phone-cards.json.wallets"), "utf8")).not.toContain(publicKey);

    const message = "pay 1 sat to carol";
    const signed = await runCli(["wallet", "sign", ...phone, "--wallet", walletId, "--message", message]);
    expect([signed.status, signed.stderr]).toEqual([0, ""]);
    const signature = /^signature: ([0-9a-f]{128})$/m.exec(signed.stdout)![1]!;
    expect(
      schnorr.verify(Buffer.from(signature, "hex"), Buffer.from(message), Buffer.from(publicKey, "hex")),
    ).toBe(true);

    const verify = (text: string) =>
      runCli([
        "wallet",
        "verify",
        "--suite",
        "secp256k1-taproot",
        "--public-key",
        publicKey,
        "--signature",
        signature,
        "--message",
        text,
      ]);
    expect(await verify(message)).toMatchObject({ status: 0, stdout: "valid\n" });
    expect(await verify(`${message}!`)).toMatchObject({
      status: 1,
      stdout: expect.stringMatching(/^invalid/),
    });
  }, 600_000);

  it("verify: a key of the wrong length is a usage error (exit 2); signing with an unknown wallet exits 1", async () => {
    dir = mkdtempSync(join(tmpdir(), "pairkit-wallet-"));
    const short = await runCli([
      "wallet",
      "verify",
      "--suite",
      "ed25519",
      "--public-key",
      "00".repeat(31),
      "--signature",
      "00".repeat(64),
      "--message",
      "x",
    ]);
    expect([short.status, short.stdout]).toEqual([2, ""]);
    expect(short.stderr).toMatch(
      /^pairkit: --public-key\/--signature: a ed25519 public key .* has 32 bytes, not 31\n$/,
    );
    const unknown = await runCli([
      "wallet",
      "sign",
      "--radio",
      "ws://127.0.0.1:9",
      "--store",
      join(dir, "phone-cards.json"),
      "--wallet",
      "ab".repeat(16),
      "--message",
      "x",
    ]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^pairkit: this phone holds no share of wallet abab/);
  }, 300_000);
});
