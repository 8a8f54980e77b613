import { writeFile } from "node:fs/promises";
import { openRadioPeripheral } from "@pairkit/ble";
import { nodeCrypto } from "@pairkit/core/node";
import { serveCardOnPeripheral } from "./card-peripheral.ts";
import { CardSimulator } from "./card-simulator.ts";
import { JsonFileCardStore } from "./file-card-store.ts";
import { renderQrPng, renderQrTerminal } from "./qr-render.ts";

export interface CardProcessConfig {
  /** WebSocket radio URL (docs/radio.md). */
  readonly radioUrl: string;
  /** The card's flash: identity key and paired phones. */
  readonly statePath: string;
  readonly deviceName: string;
  readonly ownerUser: string;
  readonly firmwareVersion: string;
  /** Where to write the QR code as PNG, refreshed with the displayed code. */
  readonly qrPngPath?: string;
  /** Most signatures per MPC wallet per UTC day (docs §4.9.4); default unlimited. */
  readonly dailySignLimit?: number;
  /** The card's display: QR code, sessions that failed, what it is asked to sign. */
  readonly log: (line: string) => void;
}

/** How often the displayed code gets a fresh timestamp (docs §4.1: at least every 300 s). */
const QR_REFRESH_MS = 240_000;

/**
 * The card simulator as its own process on the WebSocket radio (`pairkit card`):
 * opens or creates its state, shows its QR code in the terminal (and as a PNG), and serves
 * phones until the radio closes. Resolves with a `stop()`.
 */
export async function runCardProcess(
  config: CardProcessConfig,
): Promise<{ card: CardSimulator; stop: () => Promise<void> }> {
  const card = await CardSimulator.open({
    crypto: nodeCrypto,
    store: new JsonFileCardStore(config.statePath),
    deviceName: config.deviceName,
    ownerUser: config.ownerUser,
    firmwareVersion: config.firmwareVersion,
    log: config.log,
    ...(config.dailySignLimit !== undefined ? { mpcPolicy: { dailySignLimit: config.dailySignLimit } } : {}),
  });
  const display = async () => {
    const text = card.qrText();
    if (config.qrPngPath) await writeFile(config.qrPngPath, await renderQrPng(text));
    return text;
  };
  config.log(await renderQrTerminal(await display()));
  const refresh = setInterval(
    () => display().catch((e) => config.log(`QR refresh failed: ${String(e)}`)),
    QR_REFRESH_MS,
  );
  const peripheral = await openRadioPeripheral(config.radioUrl, { nodeId: `card-${card.deviceId}` });
  await serveCardOnPeripheral(peripheral, card, {
    crypto: nodeCrypto,
    onError: (error) => config.log(`session ended: ${error.code}`),
  });
  config.log(`card ${card.deviceId} (${config.deviceName}) advertising; ready`);
  return {
    card,
    stop: async () => {
      clearInterval(refresh);
      await peripheral.close();
      card.destroy();
    },
  };
}
