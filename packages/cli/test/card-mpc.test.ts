import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { p256_FROST } from "@noble/curves/nist.js";
import {
  ACTIVE_CARD_PIPE,
  ACTIVE_CARD_SERVICE,
  FramedLink,
  openCentralFrameChannel,
  openRadioCentral,
} from "@pairkit/ble";
import { type RadioServer, startRadioServer } from "@pairkit/ble/node";
import {
  ActiveCardPhone,
  CardRefusedError,
  CardWallets,
  MemoryPairedCardStore,
  parseQrPayload,
  SoftwareWalletKeystore,
} from "@pairkit/core";
import { nodeCrypto, readQrFromPng } from "@pairkit/core/node";
import { afterEach, describe, expect, it } from "vitest";

const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));

let server: RadioServer | undefined;
let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (child?.exitCode === null) child.kill();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts `pairkit card`; resolves once it is ready, with a getter for everything it printed. */
function startCard(args: string[]): Promise<() => string> {
  const proc = spawn(tsx, [main, "card", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child = proc;
  let stdout = "";
  let stderr = "";
  proc.stderr!.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    proc.stdout!.on("data", (d) => {
      stdout += d;
      if (stdout.includes("ready")) resolve(() => stdout);
    });
    proc.on("exit", (code) => reject(new Error(`card process exited ${code}: ${stderr}`)));
  });
}

async function stopCard(): Promise<void> {
  const proc = child!;
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGTERM");
  await exited;
}

describe("pairkit card serves MPC wallets as its own process", () => {
  it("creates a wallet, co-signs (shown on its display), keeps it across a restart, enforces --daily-limit", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
    dir = mkdtempSync(join(tmpdir(), "pairkit-card-mpc-"));
    const args = [
      "--radio",
      server.url,
      "--state",
      join(dir, "card.json"),
      "--owner",
      "bob@example.com",
      "--qr-png",
      join(dir, "qr.png"),
      "--daily-limit",
      "2",
    ];
    let output = await startCard(args);
    const qr = parseQrPayload(readQrFromPng(readFileSync(join(dir, "qr.png"))), Date.now());
    const central = await openRadioCentral(server.url, { mtu: 185 });
    const connect = async () => {
      let node: string | undefined;
      for await (const ad of central.scan({
        timeoutMs: 5000,
        filters: [{ services: [ACTIVE_CARD_SERVICE] }],
      })) {
        node = ad.peripheralId;
        break;
      }
      const client = await central.connect(node!, { timeoutMs: 5000 });
      return new FramedLink(await openCentralFrameChannel(client, ACTIVE_CARD_PIPE), {
        role: "central",
        crypto: nodeCrypto,
      });
    };
    const phone = new ActiveCardPhone({ crypto: nodeCrypto, store: new MemoryPairedCardStore() });
    const keystore = SoftwareWalletKeystore.inMemory();
    let session = await phone.pair(await connect(), qr, "bob@example.com");
    const { wallet } = await new CardWallets(session, { crypto: nodeCrypto, keystore }).createWallet({
      label: "process wallet",
    });
    const message = new TextEncoder().encode("pay carol 5");
    const first = await new CardWallets(session, { crypto: nodeCrypto, keystore }).sign(wallet.walletId, {
      message,
    });
    expect(p256_FROST.verify(first, message, wallet.groupPublicKey)).toBe(true);
    await session.close();
    expect(output()).toContain("sign request: wallet");
    expect(output()).toContain('message "pay carol 5"');

    // The card process restarts from its flash; the wallet is still there and counted.
    await stopCard();
    output = await startCard(args);
    session = await phone.reconnect(await connect(), qr.deviceId);
    const digest = nodeCrypto.randomBytes(32);
    const second = await new CardWallets(session, { crypto: nodeCrypto, keystore }).sign(wallet.walletId, {
      digest,
    });
    expect(p256_FROST.verify(second, digest, wallet.groupPublicKey)).toBe(true);
    const third = await new CardWallets(session, { crypto: nodeCrypto, keystore })
      .sign(wallet.walletId, { digest })
      .catch((e: unknown) => e);
    expect(third).toBeInstanceOf(CardRefusedError);
    expect(third).toMatchObject({ reason: "DAILY_LIMIT" });
    await session.close();
    await central.close();
    const state = JSON.parse(readFileSync(join(dir, "card.json"), "utf8"));
    expect(state.wallets).toHaveLength(1);
    expect(state.wallets[0].signsToday).toBe(2);
  });
});
