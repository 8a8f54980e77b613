import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { serveEnvironment } from "../src/serve.ts";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "pairkit-serve-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function start(extraEnv: Record<string, string>, command = "serve") {
  const child = spawn(tsx, [main, command, "--port", "0", "--radio-port", "0"], {
    env: {
      ...process.env,
      PGLITE_DIR: join(dataDir, "db"),
      PAIRKIT_STATE_DIR: join(dataDir, "state"),
      LOG_LEVEL: "warn",
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
      if (match && stdout.includes("Ctrl-C")) {
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

async function post<T>(url: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return (await response.json()) as T;
}

const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

describe("pairkit serve: configuration", () => {
  it("keeps the database in the state directory and the broker on 18830 unless the environment says otherwise", () => {
    expect(serveEnvironment({}, "/var/pairkit", undefined)).toMatchObject({
      PGLITE_DIR: join("/var/pairkit", "db"),
      MQTT_PORT: "18830",
    });
    expect(serveEnvironment({}, ".pairkit", 9000)).toMatchObject({
      PGLITE_DIR: join(".pairkit", "db"),
      PORT: "9000",
    });
    const explicit = { PGLITE_DIR: "/elsewhere", MQTT_PORT: "1883" };
    expect(serveEnvironment(explicit, "/var/pairkit", undefined)).toMatchObject(explicit);
  });
});

describe("pairkit serve", () => {
  it("`start` (what npm start runs) serves /healthz, mints a demo token, and stops cleanly on SIGINT", async () => {
    const server = start({}, "start");
    const url = await server.ready;
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" });
    const token = await fetch(`${url}/dev/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId: "alice" }),
    });
    expect(token.status).toBe(200);
    // The web console, with the radio it should use and the trust anchors and card it shows.
    const page = await fetch(`${url}/`);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await page.text()).toContain("<script");
    const radio = /WebSocket radio\s+(ws:\/\/\S+)/.exec(server.output())![1];
    expect(await (await fetch(`${url}/console/settings.json`)).json()).toEqual({ radioUrl: radio });
    expect((await (await fetch(`${url}/dev/trust-anchors`)).json()).certificates).toHaveLength(1);
    expect((await (await fetch(`${url}/dev/cards`)).json()).cards).toMatchObject([{ name: "AC-Demo-Card" }]);
    server.child.kill("SIGINT");
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain("stopping");
    expect(server.output()).not.toMatch(JWT); // the token never reaches the log
  }, 120_000);

  it("runs the fleet and the card: a spawned `pairkit pair` pairs and unlocks; a restart keeps keys, fleet and card", async () => {
    const first = start({});
    const url = await first.ready;
    const radio = /WebSocket radio\s+(ws:\/\/\S+)/.exec(first.output())![1]!;
    expect(first.output()).toMatch(/VH-DEMO-1 \(Demo Roadster, alice\).*VH-DEMO-3/);
    const cardId = /AC-Demo-Card \(([0-9a-f-]{36})/.exec(first.output())![1];
    const root = join(dataDir, "state", "carmaker-root.der");
    const rootBytes = readFileSync(root);
    const pair = spawnSync(
      tsx,
      [main, "pair", "--server", url, "--radio", radio, "--user", "alice", "--vehicle", "VH-DEMO-1"].concat([
        "--trust-anchor",
        root,
        "--store",
        join(dataDir, "phone.json"),
        "--unlock",
      ]),
      { encoding: "utf8", timeout: 120_000, cwd: dataDir },
    );
    expect(pair.stderr).toBe("");
    expect(pair.status).toBe(0);
    expect(pair.stdout).toMatch(/paired with VH-DEMO-1: key ([0-9a-f]{32}), attested yes/);
    expect(pair.stdout).toContain("unlocked VH-DEMO-1");
    expect(pair.stdout).not.toMatch(JWT);
    const keyId = /key ([0-9a-f]{32})/.exec(pair.stdout)![1];
    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);

    const second = start({});
    const again = await second.ready;
    expect(/AC-Demo-Card \(([0-9a-f-]{36})/.exec(second.output())![1]).toBe(cardId);
    expect(readFileSync(root)).toEqual(rootBytes);
    const { token } = await post<{ token: string }>(`${again}/dev/token`, { userId: "alice" });
    const keys = await fetch(`${again}/keys`, { headers: { authorization: `Bearer ${token}` } });
    const listed = ((await keys.json()) as { keys: { vehicleId: string; state: string }[] }).keys;
    expect(listed).toEqual([expect.objectContaining({ vehicleId: "VH-DEMO-1", state: "active" })]);
    const fleet = JSON.parse(readFileSync(join(dataDir, "state", "fleet.json"), "utf8"));
    expect(JSON.stringify(fleet.vehicles["VH-DEMO-1"].endpoints)).toContain(keyId);
    // The restarted vehicle still opens for the key the phone kept, without pairing again.
    const radioAgain = /WebSocket radio\s+(ws:\/\/\S+)/.exec(second.output())![1]!;
    const unlock = (vehicle: string) =>
      spawnSync(
        tsx,
        [main, "unlock", "--server", again, "--radio", radioAgain, "--vehicle", vehicle].concat([
          "--store",
          join(dataDir, "phone.json"),
        ]),
        { encoding: "utf8", timeout: 120_000, cwd: dataDir },
      );
    const opened = unlock("VH-DEMO-1");
    expect(opened.stderr).toBe("");
    expect(opened.stdout).toContain(`unlocked VH-DEMO-1 with key ${keyId}`);
    expect(opened.status).toBe(0);
    // Re-pairing into the same store replaces the key: `unlock` then uses the new one, and the
    // superseded key (revoked by the backend) is gone from the store.
    const repair = spawnSync(
      tsx,
      [
        main,
        "pair",
        "--server",
        again,
        "--radio",
        radioAgain,
        "--user",
        "alice",
        "--vehicle",
        "VH-DEMO-1",
      ].concat([
        "--trust-anchor",
        root,
        "--store",
        join(dataDir, "phone.json"),
        "--replace-existing",
        "--mtu",
        "517",
      ]),
      { encoding: "utf8", timeout: 120_000, cwd: dataDir },
    );
    expect(repair.stderr).toBe("");
    expect(repair.status).toBe(0);
    const newKeyId = /paired with VH-DEMO-1: key ([0-9a-f]{32})/.exec(repair.stdout)![1];
    expect(newKeyId).not.toBe(keyId);
    expect(repair.stdout).toContain(`superseded key ${keyId} erased`);
    const reopened = unlock("VH-DEMO-1");
    expect(reopened.stderr).toBe("");
    expect(reopened.stdout).toContain(`unlocked VH-DEMO-1 with key ${newKeyId}`);
    expect(reopened.status).toBe(0);
    const none = unlock("VH-DEMO-2");
    expect(none.stdout).toContain("no key for VH-DEMO-2");
    expect(none.status).toBe(1);
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
    expect(second.output()).not.toMatch(JWT);
  }, 240_000);

  it("a bad configuration value is one clear line and exit code 2", async () => {
    const server = start({ PAIRKIT_MODE: "staging" });
    await expect(server.ready).rejects.toThrow(/PAIRKIT_MODE/);
    const code = await server.exited;
    expect(code).toBe(2);
    expect(server.output()).toMatch(/PAIRKIT_MODE/);
  });
});

describe("pairkit pair: failures", () => {
  const pair = (...args: string[]) =>
    spawnSync(tsx, [main, "pair", "--vehicle", "VH-DEMO-1", "--user", "alice", ...args], {
      encoding: "utf8",
      timeout: 60_000,
      cwd: dataDir,
    });

  it("an unreachable server is one line and exit code 3", () => {
    const result = pair("--server", "http://127.0.0.1:9", "--radio", "ws://127.0.0.1:9");
    expect(result.status).toBe(3);
    expect(result.stderr.trim().split("\n")).toEqual([
      "pairkit: the pairing server at http://127.0.0.1:9 cannot be reached",
    ]);
  });

  it("a bad URL is a usage error (exit 2)", () => {
    const result = pair("--server", "ftp://example.com");
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("expected http: or https: URL");
  });
});
