import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock, parseQrPayload, QR_REFRESH_SECONDS } from "@pairkit/core";
import { readQrFromPng } from "@pairkit/core/node";
import { afterAll, describe, expect, it, vi } from "vitest";
import { startStack } from "../src/stack.ts";

const dir = mkdtempSync(join(tmpdir(), "pairkit-stack-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the stack pairkit serve runs", () => {
  it("keeps the simulated card's QR code current in /dev/cards and card-qr.png, as its display would", async () => {
    const clock = new ManualClock(Date.now());
    const stack = await startStack({
      env: { PORT: "0", MQTT_PORT: "0", SMTP_SINK_PORT: "0", PGLITE_DIR: "memory", LOG_LEVEL: "warn" },
      stateDir: dir,
      radioPort: 0,
      cardClock: clock,
    });
    try {
      const served = async () => {
        const { cards } = (await (await fetch(`${stack.server.url}/dev/cards`)).json()) as {
          cards: { qrText: string; qrPngBase64: string }[];
        };
        return cards[0]!;
      };
      const png = () => readQrFromPng(readFileSync(join(dir, "card-qr.png")));
      const first = await served();
      expect(png()).toBe(first.qrText);
      // Half an hour on, the code a user would upload from /dev/cards or the PNG still pairs.
      clock.advance(6 * QR_REFRESH_SECONDS * 1000);
      const shown = stack.simulators!.cardQr.text;
      await vi.waitFor(async () => expect((await served()).qrText).toBe(shown));
      const now = await served();
      expect(() => parseQrPayload(now.qrText, clock.now())).not.toThrow();
      expect(() => parseQrPayload(first.qrText, clock.now())).toThrow(/old/);
      expect(readQrFromPng(Buffer.from(now.qrPngBase64, "base64"))).toBe(now.qrText);
      await vi.waitFor(() => expect(png()).toBe(now.qrText));
    } finally {
      await stack.close();
    }
  }, 180_000);
});
