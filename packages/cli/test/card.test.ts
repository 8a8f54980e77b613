import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ACTIVE_CARD_PIPE,
  ACTIVE_CARD_SERVICE,
  FramedLink,
  openCentralFrameChannel,
  openRadioCentral,
} from "@pairkit/ble";
import { type RadioServer, startRadioServer } from "@pairkit/ble/node";
import { ActiveCardPhone, CardRefusedError, MemoryPairedCardStore, parseQrPayload } from "@pairkit/core";
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

function startCard(args: string[]): Promise<string> {
  child = spawn(tsx, [main, "card", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child!.stdout!.on("data", (d) => {
      stdout += d;
      if (stdout.includes("ready")) resolve(stdout);
    });
    child!.on("exit", (code) => reject(new Error(`card process exited ${code}: ${stderr}`)));
  });
}

describe("pairkit card: the card simulator as its own process on the WebSocket radio", () => {
  it("pairs from its QR PNG, reconnects, forgets, refuses the forgotten phone", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
    dir = mkdtempSync(join(tmpdir(), "pairkit-card-proc-"));
    const qrPath = join(dir, "qr.png");
    const stdout = await startCard([
      "--radio",
      server.url,
      "--state",
      join(dir, "card.json"),
      "--name",
      "AC-Bob-Key",
      "--owner",
      "bob@example.com",
      "--qr-png",
      qrPath,
    ]);
    expect(stdout).toMatch(/[▀▄█]/);

    const qr = parseQrPayload(readQrFromPng(readFileSync(qrPath)), Date.now());
    const central = await openRadioCentral(server.url, { mtu: 185 });
    let cardNode: string | undefined;
    for await (const ad of central.scan({
      timeoutMs: 2000,
      filters: [{ services: [ACTIVE_CARD_SERVICE] }],
    })) {
      cardNode = ad.peripheralId;
      break;
    }
    const connect = async () => {
      const client = await central.connect(cardNode!, { timeoutMs: 5000 });
      return new FramedLink(await openCentralFrameChannel(client, ACTIVE_CARD_PIPE), {
        role: "central",
        crypto: nodeCrypto,
      });
    };
    const store = new MemoryPairedCardStore();
    const phone = new ActiveCardPhone({ crypto: nodeCrypto, store });
    await (await phone.pair(await connect(), qr, "bob@example.com")).close();
    const kept = await store.get(qr.deviceId);
    const session = await phone.reconnect(await connect(), qr.deviceId);
    await session.forget();
    await session.close();
    await store.put(kept!);
    const link = await connect();
    const refused = await phone.reconnect(link, qr.deviceId).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CardRefusedError);
    expect(refused).toMatchObject({ reason: "NOT_PAIRED" });
    await link.close();
    await central.close();
    const state = JSON.parse(readFileSync(join(dir, "card.json"), "utf8"));
    expect([state.deviceId, state.pairedPhones]).toEqual([qr.deviceId, []]);
  });
});

function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = spawn(tsx, [main, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
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

describe("pairkit card-pair / card-reconnect / card-forget: the phone's card role", () => {
  it("pairs from the QR PNG, reconnects and forgets with the state kept in a file; reconnecting after forget exits 1", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
    dir = mkdtempSync(join(tmpdir(), "pairkit-card-phone-"));
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
    const pairedPhones = () => JSON.parse(readFileSync(cardState, "utf8")).pairedPhones.length;

    const paired = await runCli(["card-pair", ...phone, "--qr", qrPath, "--user", "bob"]);
    expect(paired.status).toBe(0);
    const deviceId = /paired with card (\S+);/.exec(paired.stdout)![1]!;
    expect(pairedPhones()).toBe(1);
    // The store is encrypted at rest: no key material or user id in clear.
    const kept = readFileSync(join(dir, "phone-cards.json"), "utf8");
    expect(kept).not.toContain("bob");
    expect(kept).not.toContain(deviceId);

    const reconnected = await runCli(["card-reconnect", ...phone, "--card", deviceId]);
    expect([reconnected.status, reconnected.stdout]).toEqual([
      0,
      expect.stringContaining("session established"),
    ]);
    const forgotten = await runCli(["card-forget", ...phone, "--card", deviceId]);
    expect(forgotten.status).toBe(0);
    expect(pairedPhones()).toBe(0);
    const again = await runCli(["card-reconnect", ...phone, "--card", deviceId]);
    expect([again.status, again.stdout]).toEqual([1, expect.stringContaining("NOT_PAIRED")]);
  }, 180_000);
});
