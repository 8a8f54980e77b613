import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
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
    /** The answer to `message` (its result or error, matched by id when it has one), if any comes in time. */
    const ask = async (message: Record<string, unknown>, timeoutMs = 2000) => {
      const before = answers.length;
      socket.send(JSON.stringify(message));
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const answer = answers
          .slice(before)
          .find((a) => (a.kind === "result" || a.kind === "error") && (a.id === message.id || a.id === null));
        if (answer) return answer;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return undefined;
    };
    return { socket, ask };
  }

  it("answers any request, well-formed or not, with a result or a typed error, never INTERNAL (fast-check)", async () => {
    server = await startRadioServer({ radio: { connectionIntervalMs: 1 } });
    const url = server.url;
    const kinds = fc.constantFrom(
      ...["hello", "scan", "stopScan", "connect", "discover", "write", "subscribe", "unsubscribe"],
      ...["disconnect", "setServices", "startAdvertising", "stopAdvertising", "notify", "writeResponse"],
      "__proto__",
      "constructor",
    );
    const uuid = fc.oneof(fc.uuid(), fc.constantFrom("180d", "2a37", "not-a-uuid"));
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), uuid, fc.base64String({ maxLength: 12 }));
    const request = fc.record(
      {
        kind: fc.oneof(kinds, fc.string({ maxLength: 8 })),
        id: fc.oneof(fc.nat(1000), fc.jsonValue({ maxDepth: 0 })),
        version: fc.oneof(fc.constant(1), fc.jsonValue({ maxDepth: 0 })),
        role: fc.oneof(fc.constantFrom("central", "peripheral"), fc.string({ maxLength: 4 })),
        timeoutMs: fc.integer({ min: 0, max: 20 }),
        scanId: fc.nat(3),
        connectionId: fc.nat(3),
        requestId: fc.nat(3),
        peripheralId: fc.constantFrom("peer", "nobody"),
        service: uuid,
        characteristic: uuid,
        value,
        services: fc.oneof(
          value,
          fc.array(fc.record({ uuid, characteristics: fc.array(fc.record({ uuid, properties: value })) })),
        ),
        data: fc.oneof(
          value,
          fc.record({ serviceUuids: fc.array(uuid, { maxLength: 2 }), localName: value }),
        ),
        filters: fc.oneof(value, fc.array(fc.record({ services: value, namePrefix: value }))),
      },
      { requiredKeys: ["kind"] },
    );
    // Another node on the air for the requests to reach.
    const peer = await openRadioCentral(url, { nodeId: "peer" });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 4 }), async (requests) => {
        const { socket, ask } = await client(url);
        try {
          for (const message of requests) {
            const answer = await ask(message, 500);
            if (answer) expect(answer.code, JSON.stringify([message, answer])).not.toBe("INTERNAL");
          }
        } finally {
          socket.close();
        }
      }),
      { numRuns: 150 },
    );
    await peer.close();
  });

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
