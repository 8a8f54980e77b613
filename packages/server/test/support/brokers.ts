import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVER_MQTT_USERNAME } from "../../src/vehicle-link/embedded-broker.ts";

function mosquittoInstalled(): boolean {
  try {
    execFileSync("mosquitto", ["-h"], { stdio: "ignore" });
    return true;
  } catch (error) {
    // `mosquitto -h` exits with status 3 after printing its usage.
    return (error as { status?: number }).status !== undefined;
  }
}

export const MOSQUITTO_SKIP = mosquittoInstalled() ? undefined : "mosquitto binary not installed";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: "127.0.0.1" });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("mosquitto did not start listening");
}

export interface MosquittoBroker {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A private Mosquitto with the ACL docs/operations.md prescribes for external brokers: a password
 * file with the server's and the vehicles' credentials, `pattern` rules confining each vehicle to
 * its own prefix. (The system broker on 1883 cannot be given an ACL, so the ACL is tried here.)
 */
export async function startMosquitto(users: Readonly<Record<string, string>>): Promise<MosquittoBroker> {
  const dir = mkdtempSync(join(tmpdir(), "pairkit-mosquitto-"));
  const passwordFile = join(dir, "passwd");
  writeFileSync(passwordFile, "");
  for (const [user, password] of Object.entries(users)) {
    execFileSync("mosquitto_passwd", ["-b", passwordFile, user, password]);
  }
  const aclFile = join(dir, "acl");
  writeFileSync(
    aclFile,
    [
      `user ${SERVER_MQTT_USERNAME}`,
      "topic write vehicles/+/down/#",
      "topic read vehicles/+/up/#",
      "",
      "pattern write vehicles/%u/up/#",
      "pattern read vehicles/%u/down/#",
      "",
    ].join("\n"),
  );
  const port = await freePort();
  const configFile = join(dir, "mosquitto.conf");
  writeFileSync(
    configFile,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous false",
      `password_file ${passwordFile}`,
      `acl_file ${aclFile}`,
      "persistence false",
      "log_dest none",
      // Started as root, Mosquitto drops to the `mosquitto` user and could not read the 0600 files.
      ...(process.getuid?.() === 0 ? ["user root"] : []),
      "",
    ].join("\n"),
  );
  const child = spawn("mosquitto", ["-c", configFile], { stdio: "ignore" });
  await waitForPort(port, child);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((resolve) => child.once("exit", resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
