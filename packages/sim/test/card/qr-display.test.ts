import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRadioServer } from "@pairkit/ble/node";
import { ManualClock, parseQrPayload, QR_REFRESH_SECONDS } from "@pairkit/core";
import { nodeCrypto, readQrFromPng } from "@pairkit/core/node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CardSimulator, MemoryCardStore, runCardProcess, showCardQr } from "../../src/card/index.ts";

const START = 1_715_148_123_000;
const timestampOf = (text: string) => (JSON.parse(text) as { timestamp: number }).timestamp;

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("the card's QR display (docs/protocol.md §4.1)", () => {
  it("re-renders the code with a fresh timestamp every refresh period, so it never goes stale", async () => {
    const clock = new ManualClock(START);
    const card = await CardSimulator.open({
      crypto: nodeCrypto,
      store: new MemoryCardStore(),
      clock,
      deviceName: "AC-Bob",
      ownerUser: "",
      firmwareVersion: "1.0.0",
    });
    const rendered: string[] = [];
    const display = await showCardQr(card, {
      clock,
      render: async (text) => {
        rendered.push(text);
      },
      onError: (error) => expect.unreachable(String(error)),
    });
    expect(rendered).toEqual([display.text]);
    // An hour on: the code shown is always usable on a phone with the card's time.
    for (let minute = 1; minute <= 60; minute++) {
      clock.advance(60_000);
      expect(() => parseQrPayload(display.text, clock.now())).not.toThrow();
    }
    await vi.waitFor(() => expect(rendered).toHaveLength(1 + 3600 / QR_REFRESH_SECONDS));
    expect(rendered.map(timestampOf)).toEqual(rendered.map((_, i) => START / 1000 + i * QR_REFRESH_SECONDS));
    display.stop();
    clock.advance(3600_000);
    expect(rendered).toHaveLength(1 + 3600 / QR_REFRESH_SECONDS);
    expect(clock.pending).toBe(0);
  });

  it("pairkit card's process redraws the terminal code and rewrites the PNG", async () => {
    const radio = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
    dir = mkdtempSync(join(tmpdir(), "pairkit-qr-display-"));
    const clock = new ManualClock(START);
    const lines: string[] = [];
    const qrPngPath = join(dir, "qr.png");
    const cardProcess = await runCardProcess({
      radioUrl: radio.url,
      statePath: join(dir, "card.json"),
      deviceName: "AC-Bob",
      ownerUser: "",
      firmwareVersion: "1.0.0",
      qrPngPath,
      clock,
      log: (line) => lines.push(line),
    });
    try {
      const terminalCodes = () => lines.filter((line) => /[▀▄█]/.test(line)).length;
      const pngTimestamp = () => timestampOf(readQrFromPng(readFileSync(qrPngPath)));
      expect([terminalCodes(), pngTimestamp()]).toEqual([1, START / 1000]);
      clock.advance(2 * QR_REFRESH_SECONDS * 1000);
      await vi.waitFor(() => expect(terminalCodes()).toBe(3));
      await vi.waitFor(() => expect(pngTimestamp()).toBe(START / 1000 + 2 * QR_REFRESH_SECONDS));
    } finally {
      await cardProcess.stop();
      await radio.close();
    }
  });
});
