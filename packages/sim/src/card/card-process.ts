import { openRadioPeripheral } from "@pairkit/ble";
import type { Clock } from "@pairkit/core";
import { nodeCrypto, writePrivateFileAtomically } from "@pairkit/core/node";
import { serveCardOnPeripheral } from "./card-peripheral.ts";
import { CardSimulator } from "./card-simulator.ts";
import { JsonFileCardStore } from "./file-card-store.ts";
import { showCardQr } from "./qr-display.ts";
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
  /** Most signatures per MPC wallet per UTC day (docs §4.11.4); default unlimited. */
  readonly dailySignLimit?: number;
  /** The card's display: QR code, sessions that failed, what it is asked to sign. */
  readonly log: (line: string) => void;
  /** The card's clock (tests move it by hand); default the system clock. */
  readonly clock?: Clock;
}

/**
 * The card simulator as its own process on the WebSocket radio (`pairkit card`):
 * opens or creates its state, shows its QR code in the terminal (and as a PNG) and draws it
 * again with a fresh timestamp as a card's display does (docs §4.1), and serves phones until
 * the radio closes. Resolves with a `stop()`.
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
    ...(config.clock ? { clock: config.clock } : {}),
  });
  const display = await showCardQr(card, {
    ...(config.clock ? { clock: config.clock } : {}),
    render: async (text) => {
      // Replaced atomically: whoever reads the PNG meanwhile gets the old code or the new one.
      if (config.qrPngPath) await writePrivateFileAtomically(config.qrPngPath, await renderQrPng(text));
      config.log(await renderQrTerminal(text));
    },
    onError: (error) => config.log(`QR refresh failed: ${String(error)}`),
  });
  const peripheral = await openRadioPeripheral(config.radioUrl, { nodeId: `card-${card.deviceId}` });
  await serveCardOnPeripheral(peripheral, card, {
    crypto: nodeCrypto,
    onError: (error) => config.log(`session ended: ${error.code}`),
  });
  config.log(`card ${card.deviceId} (${config.deviceName}) advertising; ready`);
  return {
    card,
    stop: async () => {
      display.stop();
      await peripheral.close();
      card.destroy();
    },
  };
}
