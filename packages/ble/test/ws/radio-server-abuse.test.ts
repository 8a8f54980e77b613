import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { openRadioCentral } from "../../src/ws/radio-client.ts";
import { type RadioServer, startRadioServer } from "../../src/ws/radio-server.ts";

const tsx = fileURLToPath(new URL("../../../../node_modules/.bin/tsx", import.meta.url));
const serveScript = fileURLToPath(new URL("../../src/ws/serve.ts", import.meta.url));

let child: ChildProcess | undefined;
let server: RadioServer | undefined;
afterEach(async () => {
  if (child && child.exitCode === null) child.kill();
  child = undefined;
  await server?.close();
  server = undefined;
});

/** The radio as its own process (`serve.ts`), as `pairkit radio` and `serve` run it; resolves with its URL. */
async function radioProcess(): Promise<{ url: string; process: ChildProcess; stderr: () => string }> {
  const process = spawn(tsx, [serveScript, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  child = process;
  let stdout = "";
  let stderr = "";
  process.stderr!.on("data", (d) => {
    stderr += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    process.stdout!.on("data", (d) => {
      stdout += d;
      const match = /listening on (ws:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    process.once("exit", () => reject(new Error(`radio exited before listening: ${stderr}`)));
  });
  return { url, process, stderr: () => stderr };
}

/** A client below the ws library: a TCP socket that has done the RFC 6455 opening handshake by hand. */
async function rawWebSocket(url: string): Promise<{ socket: Socket; closeCode: Promise<number> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, "connect");
  socket.write(
    [
      "GET / HTTP/1.1",
      `Host: ${hostname}:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
      "Sec-WebSocket-Version: 13",
      "",
      "",
    ].join("\r\n"),
  );
  let received = Buffer.alloc(0);
  let upgraded: () => void;
  const upgrade = new Promise<void>((resolve) => {
    upgraded = resolve;
  });
  const closeCode = new Promise<number>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const headerEnd = received.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      if (!received.subarray(0, headerEnd).toString().startsWith("HTTP/1.1 101")) {
        reject(new Error(`handshake refused: ${received.toString()}`));
        return;
      }
      upgraded();
      // The server's frames are unmasked; the only one expected here is its close frame.
      const frames = received.subarray(headerEnd + 4);
      if (frames.length >= 4 && frames[0] === 0x88) resolve(frames.readUInt16BE(2));
    });
    socket.on("close", () => reject(new Error("closed without a close frame")));
  });
  closeCode.catch(() => {});
  await upgrade;
  return { socket, closeCode };
}

/** A client frame: FIN + opcode (+ RSV bits), masked unless told otherwise. */
function frame(first: number, payload: Uint8Array, { masked = true } = {}): Buffer {
  const header = [first, (masked ? 0x80 : 0) | payload.length];
  if (!masked) return Buffer.from([...header, ...payload]);
  const mask = randomBytes(4);
  return Buffer.from([...header, ...mask, ...payload.map((b, i) => b ^ mask[i % 4]!)]);
}

const hi = new TextEncoder().encode("hi");
const badFrames: [string, Buffer, number][] = [
  [
    "a text message over 1 MiB",
    // Header only: the declared 64-bit length alone exceeds maxPayload.
    Buffer.from([0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0x10, 0, 1, ...randomBytes(4)]),
    1009,
  ],
  ["an unmasked client frame", frame(0x81, hi, { masked: false }), 1002],
  ["an RSV1 bit without a negotiated extension", frame(0xc1, hi), 1002],
  ["invalid UTF-8 in a text frame", frame(0x81, Uint8Array.of(0xff, 0xfe)), 1007],
  ["a reserved opcode", frame(0x83, new Uint8Array(0)), 1002],
];

describe("WebSocket radio under malformed WebSocket input", () => {
  it("answers each bad frame with its close code and keeps serving in the same process", async () => {
    const radio = await radioProcess();
    for (const [what, bytes, code] of badFrames) {
      const { socket, closeCode } = await rawWebSocket(radio.url);
      socket.write(bytes);
      expect(await closeCode, what).toBe(code);
      socket.destroy();
      // The process is still up and a well-behaved node still joins the air.
      const central = await openRadioCentral(radio.url);
      expect(central.id, what).toMatch(/./);
      await central.close();
      expect(radio.process.exitCode, `${what}: ${radio.stderr()}`).toBeNull();
    }
  });
});

describe("WebSocket radio request dispatch", () => {
  async function client(url: string) {
    const socket = new WebSocket(url);
    await once(socket, "open");
    const answers: Record<string, unknown>[] = [];
    socket.on("message", (data) => answers.push(JSON.parse(String(data))));
    const ask = async (message: Record<string, unknown>) => {
      const before = answers.length;
      socket.send(JSON.stringify(message));
      await expect.poll(() => answers.length).toBeGreaterThan(before);
      return answers[before]!;
    };
    return { socket, ask };
  }

  const inherited = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf"];

  it("treats inherited object names as unknown kinds, before and after hello", async () => {
    server = await startRadioServer();
    const { socket, ask } = await client(server.url);
    let id = 1;
    for (const kind of inherited) {
      expect(await ask({ kind, id: id++ }), kind).toMatchObject({
        kind: "error",
        code: "BAD_REQUEST",
        message: "the first request must be hello",
      });
    }
    expect(await ask({ kind: "hello", id: id++, version: 1, role: "central" })).toMatchObject({
      kind: "result",
    });
    for (const kind of inherited) {
      expect(await ask({ kind, id: id++ }), kind).toMatchObject({
        kind: "error",
        code: "BAD_REQUEST",
        message: `unknown request ${kind}`,
      });
    }
    socket.close();
  });
});
