import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { toHex } from "@pairkit/core";
import { afterEach, describe, expect, it } from "vitest";
import { FrameType } from "../../src/framing/frame-type.ts";
import type { InterceptedPdu } from "../../src/sim/faults.ts";
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
  it("a phone process and a vehicle process exchange encrypted, chunked messages through FramedLink", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
    // A passive eavesdropper on the shared air: it records every PDU and changes nothing.
    const air: InterceptedPdu[] = [];
    server.radio.faults = {
      mitm: (pdu) => {
        air.push(pdu);
        return undefined;
      },
    };
    const key = toHex(Uint8Array.from({ length: 32 }, (_, i) => i * 3 + 1));
    const secret = "CONFIDENTIAL-CONFIG ".repeat(60);
    const vehicle = run("vehicle-peer.ts", [server.url, key]);
    await vehicle.printed("ready");
    const phone = await run("phone-peer.ts", [server.url, key, secret]).exited;
    expect(phone.stderr).toBe("");
    expect(phone.code).toBe(0);
    expect(JSON.parse(phone.stdout)).toEqual({
      peripheral: "vehicle-proc",
      mtu: 185,
      frameSize: 182,
      select: "elcihev olleh",
      ackType: FrameType.DEVICE_CONFIG_ACK,
      ackMatches: true,
    });
    expect((await vehicle.exited).code).toBe(0);

    const onAir = (kind: InterceptedPdu["kind"]) =>
      air.filter((p) => p.kind === kind).map((p) => Buffer.from(p.value).toString("latin1"));
    // The SELECT went in clear; the 1200-byte config took many writes and never appeared in clear.
    expect(onAir("write").some((v) => v.includes("hello vehicle"))).toBe(true);
    expect(onAir("write").length).toBeGreaterThan(1200 / 182);
    expect(onAir("notification").length).toBeGreaterThan(1200 / 182);
    for (const value of [...onAir("write"), ...onAir("notification")]) {
      expect(value).not.toContain("CONFIDENTIAL");
      expect(value).not.toContain("GIFNOC");
    }
    expect(air.every((p) => p.value.length <= 182)).toBe(true);
  });
});
