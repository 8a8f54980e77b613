import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Stack, startStack } from "../src/stack.ts";

/**
 * docs/sdk.md's `ts runnable` blocks, run as written against an in-process `pairkit serve`
 * stack, so the SDK documentation cannot drift from the SDK. Each block runs as its own module
 * (inside the repository, so the workspace packages resolve) and must print what it promises.
 */
const sdkDoc = readFileSync(new URL("../../../docs/sdk.md", import.meta.url), "utf8");
const blocks = [...sdkDoc.matchAll(/```ts runnable\n([\s\S]*?)```/g)].map((m) => m[1]!);

const stateDir = mkdtempSync(join(tmpdir(), "pairkit-sdk-doc-"));
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: { PORT: "0", MQTT_PORT: "0", SMTP_SINK_PORT: "0", PGLITE_DIR: "memory", LOG_LEVEL: "warn" },
    stateDir,
    radioPort: 0,
  });
  vi.stubEnv("PAIRKIT_SERVER_URL", stack.server.url);
  vi.stubEnv("PAIRKIT_RADIO_URL", stack.radio.url);
  // Starting the whole stack takes tens of seconds on a loaded 2-core machine.
}, 180_000);
afterAll(async () => {
  vi.unstubAllEnvs();
  await stack?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Runs one block as a module and returns what it printed. */
async function run(index: number): Promise<string> {
  const file = fileURLToPath(new URL(`./.sdk-doc-block-${process.pid}-${index}.ts`, import.meta.url));
  writeFileSync(file, blocks[index]!);
  const printed: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
  try {
    await import(file);
  } finally {
    log.mockRestore();
    rmSync(file, { force: true });
  }
  return printed.join("\n");
}

describe("docs/sdk.md examples", () => {
  it("has the three runnable examples this test expects", () => {
    expect(blocks).toHaveLength(3);
  });

  it("owner pairing with progress, then unlock", async () => {
    const printed = await run(0);
    expect(printed).toMatch(/owner pairing: connect\n(.|\n)*owner pairing: attestation/);
    expect(printed).toMatch(/paired with VH-DEMO-1: key [0-9a-f]{32}, attested true/);
    expect(printed).toMatch(/unlocked VH-DEMO-1 \(transaction \S+\)/);
  }, 120_000);

  it("Active Card: pair from the QR code, reconnect, forget", async () => {
    const printed = await run(1);
    expect(printed).toMatch(/paired with AC-Demo-Card \(\S+\); session until /);
    expect(printed).toContain("reconnected to AC-Demo-Card");
    expect(printed).toContain("forgotten; pairings kept: 0");
    expect(stack.simulators!.card.pairedPhones).toHaveLength(0);
  }, 120_000);

  it("Active Card errors: a stale code, a user the card refuses", async () => {
    const printed = await run(2);
    expect(printed).toContain("old photo: QR_STALE");
    expect(printed).toContain("refused in binding; pairings kept: 0");
    expect(stack.simulators!.card.pairedPhones).toHaveLength(0);
  }, 120_000);
});
