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
