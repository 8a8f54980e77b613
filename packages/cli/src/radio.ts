import { startRadioServer } from "@pairkit/ble/node";
import { untilSignal } from "./long-running.ts";

/** `pairkit radio`: the WebSocket radio on its own (docs/radio.md), until SIGINT/SIGTERM. */
export async function runRadio(
  options: { port: number; host: string; intervalMs: number },
  out: NodeJS.WritableStream,
): Promise<void> {
  const radio = await startRadioServer({
    port: options.port,
    host: options.host,
    radio: { connectionIntervalMs: options.intervalMs },
  });
  out.write(`WebSocket radio ${radio.url} (connection interval ${options.intervalMs} ms)\n`);
  await untilSignal();
  await radio.close();
}
