import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openRadioCentral } from "@pairkit/ble";
import { type RadioServer, startRadioServer } from "@pairkit/ble/node";
import { SoftwareSecureElement, utf8 } from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { loadConfig, type RunningServer, serve } from "@pairkit/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliPhone } from "../src/phone.ts";
import { ServerClient } from "../src/server-client.ts";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pairkit-vehicle-"));

let server: RunningServer;
let radio: RadioServer;
let child: ChildProcess | undefined;
beforeAll(async () => {
  server = await serve(
    loadConfig({
      PORT: "0",
      MQTT_PORT: "0",
      SMTP_SINK_PORT: "0",
      PGLITE_DIR: "memory",
      SCRYPT_N: "1024",
      LOG_LEVEL: "silent",
    }),
  );
  radio = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
}, 120_000);
afterAll(async () => {
  if (child?.exitCode === null) child.kill();
  await radio?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("pairkit vehicle", () => {
  it("registers, joins MQTT, advertises; a phone pairs and unlocks; SIGINT stops it", async () => {
    const root = join(dir, "root.der");
    child = spawn(
      tsx,
      [main, "vehicle", "--id", "VH-DEMO-1", "--server", server.url, "--radio", radio.url].concat([
        "--state",
        join(dir, "vehicle.json"),
        "--trust-anchor-out",
        root,
      ]),
    );
    let stdout = "";
    child.stdout!.on("data", (d) => {
      stdout += d;
    });
    const exited = new Promise((resolve) => child!.on("exit", resolve));
    await expect.poll(() => stdout, { timeout: 60_000, interval: 100 }).toContain("ready");
    expect(stdout).toContain("vehicle VH-DEMO-1 (Demo Roadster) registered");

    // The server only grants a password once the vehicle acknowledged the verifier over MQTT.
    const client = new ServerClient(server.url);
    const token = await client.devToken("alice");
    const central = await openRadioCentral(radio.url, { mtu: 185 });
    const phone = new CliPhone({
      crypto: nodeCrypto,
      central,
      server: client,
      token,
      trustAnchors: [new Uint8Array(readFileSync(root))],
      ktsPublicKey: await client.ktsPublicKey(),
      secureElement: SoftwareSecureElement.inMemory(nodeCrypto),
      deviceId: utf8("vehicle-test"),
    });
    const paired = await phone.pair("VH-DEMO-1", await client.requestPassword(token, "VH-DEMO-1"));
    if (!paired.ok) throw new Error(`pairing failed: ${paired.error.code}`);
    expect(await phone.unlock("VH-DEMO-1", paired.key.keyId)).toMatchObject({ ok: true });
    await central.close();
    await expect.poll(() => stdout).toContain("VH-DEMO-1: unlocked");
    const state = JSON.parse(readFileSync(join(dir, "vehicle.json"), "utf8"));
    expect(state.vehicles["VH-DEMO-1"].endpoints).toHaveLength(1);

    child.kill("SIGINT");
    expect(await exited).toBe(0);
  }, 180_000);

  it("an unregistered vehicle is a usage error (2); an unreachable server exit 3", async () => {
    const run = (...args: string[]) =>
      spawnSync(tsx, [main, "vehicle", ...args], { encoding: "utf8", timeout: 60_000 });
    // The server runs in this process, so this child must not block it (no spawnSync).
    const unknown = spawn(
      tsx,
      [main, "vehicle", "--id", "VH-NOPE", "--server", server.url].concat([
        "--radio",
        radio.url,
        "--state",
        join(dir, "unknown.json"),
      ]),
    );
    let stderr = "";
    unknown.stderr!.on("data", (d) => {
      stderr += d;
    });
    const status = await new Promise((resolve) => unknown.on("exit", resolve));
    expect([status, stderr]).toEqual([
      2,
      "pairkit: --id: VH-NOPE is not registered with the server (POST /admin/vehicles)\n",
    ]);
    const offline = run("--id", "VH-DEMO-2", "--server", "http://127.0.0.1:9", "--radio", radio.url);
    expect(offline.status).toBe(3);
    expect(offline.stderr).toBe("pairkit: the pairing server at http://127.0.0.1:9 cannot be reached\n");
  }, 180_000);
});
