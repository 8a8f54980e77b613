import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openRadioPeripheral } from "@pairkit/ble";
import { type RadioServer, startRadioServer } from "@pairkit/ble/node";
import { nodeCrypto } from "@pairkit/core/node";
import { type DevCard, loadConfig, type RunningServer, serve } from "@pairkit/server";
import { CardSimulator, MemoryCardStore, renderQrPng, serveCardOnPeripheral } from "@pairkit/sim";
import { startDemoFleet } from "@pairkit/sim/fleet";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { ensureConsoleBuilt } from "../../src/node/build.ts";
import { writeCameraFeed } from "./fake-camera.ts";

export const CHROMIUM = "/usr/bin/chromium";
/** Without Chromium the browser tests skip on a developer machine; under CI that is a failure. */
export const skipBrowserTests = !existsSync(CHROMIUM) && !process.env.CI;
if (skipBrowserTests)
  console.warn(`packages/web browser tests skipped: ${CHROMIUM} not found (CI installs it)`);

export const RESULTS_DIR = fileURLToPath(new URL("../../test-results/", import.meta.url));
export const PHONE = { width: 390, height: 844 } as const;
export const DESKTOP = { width: 1280, height: 900 } as const;

export const CARD_NAME = "AC-Alice-Key";
export const CARD_OWNER = "alice@example.com";

/**
 * Headless Chromium kept off the network: no background services, no component or safe-browsing
 * updates, and every host name except the loopback addresses resolves to nothing.
 */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless=new",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-default-apps",
  "--disable-domain-reliability",
  "--disable-sync",
  "--disable-features=OptimizationHints,MediaRouter,Translate",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
  "--enable-features=WebBluetooth",
];

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (typeof address !== "object" || address === null) throw new Error("no free port");
  return address.port;
}

/**
 * The whole development world in one process: the pairing server in development mode serving the
 * built console (temporary PGlite, embedded MQTT and SMTP sink on free ports), the WebSocket radio,
 * the demo fleet on it, one Active Card simulator, and a headless Chromium.
 */
export class ConsoleHarness {
  private constructor(
    readonly server: RunningServer,
    readonly radio: RadioServer,
    readonly card: CardSimulator,
    readonly browser: Browser,
    private readonly closers: (() => Promise<void>)[],
  ) {}

  get url(): string {
    return this.server.url;
  }

  static async start(): Promise<ConsoleHarness> {
    const closers: (() => Promise<void>)[] = [];
    const closeAll = async () => {
      for (const close of closers.splice(0).reverse()) await close().catch(() => {});
    };
    try {
      await mkdir(RESULTS_DIR, { recursive: true });
      const root = await ensureConsoleBuilt();
      const radio = await startRadioServer({ radio: { connectionIntervalMs: 2 } });
      closers.push(() => radio.close());
      const dataDir = await mkdtemp(join(tmpdir(), "pairkit-web-"));
      closers.push(() => rm(dataDir, { recursive: true, force: true }));

      let trustAnchors: readonly Uint8Array[] = [];
      let cards: readonly DevCard[] = [];
      const port = await freePort();
      const server = await serve(
        loadConfig({
          PAIRKIT_MODE: "development",
          PORT: String(port),
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          MQTT_PORT: "0",
          SMTP_SINK_PORT: "0",
          PGLITE_DIR: dataDir,
          SCRYPT_N: "1024",
          LOG_LEVEL: "silent",
          MAINTENANCE_INTERVAL_SECONDS: "3600",
        }),
        {
          console: { root, settings: { radioUrl: radio.url } },
          devFixtures: { trustAnchors: () => trustAnchors, cards: () => cards },
        },
      );
      closers.push(() => server.close());

      const fleet = await startDemoFleet({
        serverUrl: server.url,
        peripheral: (vehicleId) => openRadioPeripheral(radio.url, { nodeId: vehicleId, mtu: 247 }),
        crypto: nodeCrypto,
      });
      closers.push(() => fleet.close());
      trustAnchors = fleet.trustAnchors;

      const card = await CardSimulator.open({
        crypto: nodeCrypto,
        store: new MemoryCardStore(),
        deviceName: CARD_NAME,
        ownerUser: CARD_OWNER,
        firmwareVersion: "1.0.3",
      });
      closers.push(async () => card.destroy());
      const cardRadio = await openRadioPeripheral(radio.url, { nodeId: `card-${card.deviceId}` });
      closers.push(() => cardRadio.close());
      await serveCardOnPeripheral(cardRadio, card, { crypto: nodeCrypto });
      const qrText = card.qrText();
      const qrPng = await renderQrPng(qrText);
      cards = [{ name: CARD_NAME, qrText, qrPngBase64: Buffer.from(qrPng).toString("base64") }];
      // What the camera sees is the card's display: Chromium's fake capture device plays this feed.
      const cameraFeed = join(dataDir, "camera.y4m");
      await writeCameraFeed(qrPng, cameraFeed);

      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          ...CHROMIUM_ARGS,
          "--use-fake-device-for-media-stream",
          "--use-fake-ui-for-media-stream",
          `--use-file-for-fake-video-capture=${cameraFeed}`,
        ],
      });
      closers.push(() => browser.close());
      return new ConsoleHarness(server, radio, card, browser, closers);
    } catch (error) {
      await closeAll();
      throw error;
    }
  }

  /**
   * A fresh browser profile (a new phone) with one page on the console. `run` gets the page; on
   * failure the page's console and errors are printed and a screenshot is kept.
   */
  async withPage(
    name: string,
    viewport: { width: number; height: number },
    run: (page: Page, context: BrowserContext) => Promise<void>,
  ): Promise<void> {
    const context = await this.browser.newContext({ viewport, baseURL: this.url });
    const page = await context.newPage();
    const log: string[] = [];
    page.on("console", (m) => log.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
    try {
      await run(page, context);
    } catch (error) {
      await page
        .screenshot({ path: join(RESULTS_DIR, `${name}-failure.png`), fullPage: true })
        .catch(() => {});
      process.stderr.write(`browser console (${name}):\n${log.join("\n") || "(empty)"}\n`);
      throw error;
    } finally {
      await context.close();
    }
  }

  async close(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) await close().catch(() => {});
  }
}

/** A full-page screenshot under packages/web/test-results/. */
export function snap(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(RESULTS_DIR, `${name}.png`), fullPage: true });
}
