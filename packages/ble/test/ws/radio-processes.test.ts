import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { type RadioServer, startRadioServer } from "../../src/ws/radio-server.ts";

const tsx = fileURLToPath(new URL("../../../../node_modules/.bin/tsx", import.meta.url));
const peer = (name: string) => fileURLToPath(new URL(`./peers/${name}`, import.meta.url));

let server: RadioServer | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children) if (child.exitCode === null) child.kill();
  children.length = 0;
  await server?.close();
});

function run(script: string, args: string[]) {
  const child = spawn(tsx, [peer(script), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, stdout, stderr })),
  );
  const printed = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => stdout.includes(text) && resolve();
      child.stdout.on("data", check);
      child.on("exit", () => reject(new Error(`${script} exited before printing ${text}: ${stderr}`)));
    });
  return { exited, printed };
}

describe("WebSocket radio across processes", () => {
  it("a phone process and a vehicle process exchange frames through the shared air", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 5 } });
    const vehicle = run("vehicle-peer.ts", [server.url]);
    await vehicle.printed("ready");
    const phone = await run("phone-peer.ts", [server.url, "alpha,bravo,charlie"]).exited;
    expect(phone.stderr).toBe("");
    expect(phone.code).toBe(0);
    expect(JSON.parse(phone.stdout)).toEqual({
      peripheral: "vehicle-proc",
      mtu: 185,
      answers: ["ahpla", "ovarb", "eilrahc"],
    });
    expect((await vehicle.exited).code).toBe(0);
  });
});
