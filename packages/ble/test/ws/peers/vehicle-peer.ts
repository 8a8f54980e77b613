// A vehicle in its own process on the WebSocket radio. Over a FramedLink it answers a plaintext
// SELECT, switches to encryption under the key given on the command line, and answers the
// (chunked, sealed) DEVICE_CONFIG with a DEVICE_CONFIG_ACK carrying the payload reversed.
import { fromHex, nobleCrypto } from "@pairkit/core";
import { FramedLink } from "../../../src/framed-link.ts";
import { FrameType } from "../../../src/framing/frame-type.ts";
import { RESPONSE_TIMEOUT_MS } from "../../../src/framing/timeouts.ts";
import { OWNER_PAIRING_PIPE, openPeripheralFrameChannel } from "../../../src/gatt/frame-channels.ts";
import { OWNER_COMMAND_CHARACTERISTIC, OWNER_PAIRING_SERVICE } from "../../../src/gatt/uuids.ts";
import { openRadioPeripheral } from "../../../src/ws/radio-client.ts";

const [url = "", keyHex = ""] = process.argv.slice(2);
const vehicle = await openRadioPeripheral(url, { nodeId: "vehicle-proc", mtu: 185 });
await vehicle.setServices([
  {
    uuid: OWNER_PAIRING_SERVICE,
    characteristics: [{ uuid: OWNER_COMMAND_CHARACTERISTIC, properties: ["write", "notify"] }],
  },
]);
vehicle.onConnection(async (connection) => {
  try {
    const channel = await openPeripheralFrameChannel(connection, OWNER_PAIRING_PIPE, { timeoutMs: 10_000 });
    const link = new FramedLink(channel, { role: "peripheral", crypto: nobleCrypto });
    const select = await link.receive({ timeoutMs: RESPONSE_TIMEOUT_MS });
    await link.send({ type: FrameType.SELECT, payload: select.payload.slice().reverse() });
    link.secure(fromHex(keyHex));
    const config = await link.receive({ timeoutMs: RESPONSE_TIMEOUT_MS });
    await link.send({ type: FrameType.DEVICE_CONFIG_ACK, payload: config.payload.slice().reverse() });
    channel.onClose(async () => {
      await vehicle.close();
      process.exit(0);
    });
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
});
await vehicle.startAdvertising({ serviceUuids: [OWNER_PAIRING_SERVICE], localName: "PK-PROC" });
console.log("ready");
