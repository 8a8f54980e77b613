import { runCardProcess } from "@pairkit/sim";
import { untilSignal } from "./long-running.ts";

export interface CardOptions {
  readonly radio: string;
  readonly state: string;
  readonly name: string;
  readonly owner: string;
  readonly firmware: string;
  readonly qrPng?: string;
  readonly dailyLimit?: number;
}

/** `pairkit card`: the Active Card simulator on a WebSocket radio, until SIGINT/SIGTERM. */
export async function runCard(options: CardOptions, out: NodeJS.WritableStream): Promise<void> {
  const { stop } = await runCardProcess({
    radioUrl: options.radio,
    statePath: options.state,
    deviceName: options.name,
    ownerUser: options.owner,
    firmwareVersion: options.firmware,
    ...(options.qrPng ? { qrPngPath: options.qrPng } : {}),
    ...(options.dailyLimit !== undefined ? { dailySignLimit: options.dailyLimit } : {}),
    log: (line) => out.write(`${line}\n`),
  });
  await untilSignal();
  await stop();
}
