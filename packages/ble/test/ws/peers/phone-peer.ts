// A phone in its own process on the WebSocket radio: finds the vehicle, sends frames, prints the answers as JSON.
import { connectWithRetry, findPeripheral } from "../../../src/gatt/connect.ts";
import { OWNER_PAIRING_PIPE, openCentralFrameChannel } from "../../../src/gatt/frame-channels.ts";
import { OWNER_PAIRING_SERVICE } from "../../../src/gatt/uuids.ts";
import { openRadioCentral } from "../../../src/ws/radio-client.ts";

const url = process.argv[2] ?? "";
const frames = (process.argv[3] ?? "").split(",");
const phone = await openRadioCentral(url, { mtu: 247 });
const found = await findPeripheral(phone, {
  timeoutMs: 10_000,
  filters: [{ services: [OWNER_PAIRING_SERVICE] }],
});
const client = await connectWithRetry(phone, found.peripheralId, {
  timeoutMs: 10_000,
  attempts: 3,
  backoffMs: 100,
});
const channel = await openCentralFrameChannel(client, OWNER_PAIRING_PIPE);
const answers: string[] = [];
const done = new Promise<void>((resolve) =>
  channel.onFrame((frame) => {
    answers.push(new TextDecoder().decode(frame));
    if (answers.length === frames.length) resolve();
  }),
);
for (const frame of frames) await channel.sendFrame(new TextEncoder().encode(frame));
await done;
console.log(JSON.stringify({ peripheral: found.peripheralId, mtu: channel.mtu, answers }));
await channel.close();
await phone.close();
