import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { openRadioPeripheral, type Peripheral } from "@pairkit/ble";
import { type RadioServer, startRadioServer } from "@pairkit/ble/node";
import { type Clock, encodeBase64 } from "@pairkit/core";
import { nodeCrypto, writePrivateFileAtomically } from "@pairkit/core/node";
import {
  type DevCard,
  type Env,
  loadConfig,
  type RunningServer,
  type ServerConfig,
  serve,
} from "@pairkit/server";
import {
  CardSimulator,
  JsonFileCardStore,
  type QrDisplay,
  renderQrPng,
  serveCardOnPeripheral,
  showCardQr,
} from "@pairkit/sim";
import { type DemoFleet, JsonFileFleetState, startDemoFleet } from "@pairkit/sim/fleet";
import { ensureConsoleBuilt } from "@pairkit/web/node";

export interface StackOptions {
  /** Server configuration (docs/operations.md); the stack only fills in its own defaults. */
  readonly env: Env;
  /** Where the fleet's carmaker CA and identities and the card's flash live. */
  readonly stateDir: string;
  readonly radioPort: number;
  /** Serve the web console (built with Vite first when stale); development mode only. */
  readonly console?: boolean;
  /** The simulated Active Card's session errors (a refused phone is one) and failed QR refreshes. */
  readonly onCardError?: (code: string) => void;
  /** The simulated card's clock, which dates its QR code (tests move it by hand). */
  readonly cardClock?: Clock;
}

/** The demo Active Card: the user it belongs to and what its QR code says. */
export const DEMO_CARD = {
  deviceName: "AC-Demo-Card",
  ownerUser: "alice",
  firmwareVersion: "1.0.0",
} as const;

/** The simulated devices on the radio (development mode: they register through /dev routes). */
export interface Simulators {
  readonly fleet: DemoFleet;
  readonly card: CardSimulator;
  /** The card's display, kept current as `/dev/cards` and this PNG file (docs §4.1). */
  readonly cardQr: QrDisplay;
  readonly cardQrPath: string;
}

/** Where the card's display goes in the state directory. */
export const CARD_QR_FILE = "card-qr.png";

/** Everything `pairkit serve` runs and `pairkit demo` drives, started and stopped in one place. */
export interface Stack {
  readonly config: ServerConfig;
  readonly server: RunningServer;
  readonly radio: RadioServer;
  /** Undefined in production mode, which has no /dev routes and no demo data. */
  readonly simulators: Simulators | undefined;
  close(): Promise<void>;
}

/**
 * The composition root shared by `pairkit serve` and `pairkit demo`: the backend (HTTP API,
 * database, MQTT broker, SMTP sink), the WebSocket radio, the simulated fleet (registered with
 * the backend, on MQTT, advertising on the radio) and one simulated Active Card on the radio —
 * the simulators in development mode only. A part that fails to start stops the parts already
 * running.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const config = loadConfig(await withRealPort(options.env));
  await mkdir(options.stateDir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const development = config.mode === "development";
    // The radio first: the console's settings and its CSP name the radio's address.
    const radio = await startRadioServer({ host: config.host, port: options.radioPort });
    stops.push(() => radio.close());
    // The simulators start after the server (they register with it); the fixtures read them late.
    let simulators: Simulators | undefined;
    let cards: readonly DevCard[] = [];
    const server = await serve(config, {
      ...(development &&
        options.console && {
          console: { root: await ensureConsoleBuilt(), settings: { radioUrl: radio.url } },
        }),
      ...(development && {
        devFixtures: { trustAnchors: () => simulators?.fleet.trustAnchors ?? [], cards: () => cards },
      }),
    });
    stops.push(() => server.close());
    const parts = { config, server, radio, close: stopAll };
    if (!development) return { ...parts, simulators: undefined };
    // The fleet closes its vehicles' peripherals; the card's is ours to close.
    const peripheral = (nodeId: string): Promise<Peripheral> => openRadioPeripheral(radio.url, { nodeId });
    const fleet = await startDemoFleet({
      serverUrl: server.url,
      peripheral,
      state: new JsonFileFleetState(join(options.stateDir, "fleet.json")),
      crypto: nodeCrypto,
    });
    stops.push(() => fleet.close());
    const card = await CardSimulator.open({
      crypto: nodeCrypto,
      store: new JsonFileCardStore(join(options.stateDir, "card.json")),
      ...DEMO_CARD,
      ...(options.cardClock ? { clock: options.cardClock } : {}),
    });
    stops.push(async () => card.destroy());
    const cardPeripheral = await peripheral(`card-${card.deviceId}`);
    stops.push(() => cardPeripheral.close());
    await serveCardOnPeripheral(cardPeripheral, card, {
      crypto: nodeCrypto,
      ...(options.onCardError ? { onError: (e) => options.onCardError?.(e.code) } : {}),
    });
    const cardQrPath = join(options.stateDir, CARD_QR_FILE);
    const cardQr = await showCardQr(card, {
      ...(options.cardClock ? { clock: options.cardClock } : {}),
      render: async (qrText) => {
        const png = await renderQrPng(qrText);
        await writePrivateFileAtomically(cardQrPath, png);
        cards = [{ name: DEMO_CARD.deviceName, qrText, qrPngBase64: encodeBase64(png) }];
      },
      onError: () => options.onCardError?.("QR_REFRESH_FAILED"),
    });
    stops.push(async () => cardQr.stop());
    simulators = { fleet, card, cardQr, cardQrPath };
    return { ...parts, simulators };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * PORT=0 asks for any free port, but the server names itself in deep links and in the KTS
 * endpoint it hands to phones (PUBLIC_URL), so the port must be known before it starts.
 */
async function withRealPort(env: Env): Promise<Env> {
  if (env.PORT !== "0" || env.PUBLIC_URL !== undefined) return env;
  const host = env.HOST ?? "127.0.0.1";
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, host, resolve);
  });
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return { ...env, PORT: String(port) };
}
