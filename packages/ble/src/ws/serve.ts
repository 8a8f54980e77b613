// Runs the WebSocket radio on its own: `npx tsx packages/ble/src/ws/serve.ts [--port 8765] [--host 127.0.0.1]
// [--interval-ms 30]`. Prints the URL peers join (docs/radio.md) and runs until interrupted.
import { parseArgs } from "node:util";
import { startRadioServer } from "./radio-server.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8765" },
    host: { type: "string", default: "127.0.0.1" },
    "interval-ms": { type: "string", default: "30" },
  },
});
const port = Number(values.port);
const connectionIntervalMs = Number(values["interval-ms"]);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !(connectionIntervalMs >= 0)) {
  console.error("usage: serve.ts [--port 0-65535] [--host address] [--interval-ms ≥ 0]");
  process.exit(2);
}
const server = await startRadioServer({ port, host: values.host, radio: { connectionIntervalMs } });
console.log(`pairkit radio listening on ${server.url}`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
