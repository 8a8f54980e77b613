// A phone in its own process on the WebSocket radio: finds the vehicle, sends a plaintext SELECT,
// switches to encryption and sends a DEVICE_CONFIG larger than many frames; prints what came back.
import { constantTimeEqual, fromHex, nobleCrypto, utf8 } from "@pairkit/core";
import { FramedLink } from "../../../src/framed-link.ts";
import { FrameType } from "../../../src/framing/frame-type.ts";
import { RESPONSE_TIMEOUT_MS } from "../../../src/framing/timeouts.ts";
import { connectWithRetry, findPeripheral } from "../../../src/gatt/connect.ts";
import { OWNER_PAIRING_PIPE, openCentralFrameChannel } from "../../../src/gatt/frame-channels.ts";
import { OWNER_PAIRING_SERVICE } from "../../../src/gatt/uuids.ts";
import { openRadioCentral } from "../../../src/ws/radio-client.ts";

const [url = "", keyHex = "", configText = ""] = process.argv.slice(2);
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
const link = new FramedLink(channel, { role: "central", crypto: nobleCrypto });
await link.send({ type: FrameType.SELECT, payload: utf8("hello vehicle") });
const answer = await link.receive({ timeoutMs: RESPONSE_TIMEOUT_MS });
link.secure(fromHex(keyHex));
const config = utf8(configText);
await link.send({ type: FrameType.DEVICE_CONFIG, payload: config });
const ack = await link.receive({ timeoutMs: RESPONSE_TIMEOUT_MS });
const expected = config.slice().reverse();
console.log(
  JSON.stringify({
    peripheral: found.peripheralId,
    mtu: channel.mtu,
    frameSize: link.frameSize,
    select: new TextDecoder().decode(answer.payload),
    ackType: ack.type,
    ackMatches: ack.payload.length === expected.length && constantTimeEqual(ack.payload, expected),
  }),
);
await link.close();
await phone.close();
