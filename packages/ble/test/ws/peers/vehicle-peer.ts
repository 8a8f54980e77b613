// A vehicle in its own process on the WebSocket radio: answers each frame with the frame reversed.
import { OWNER_PAIRING_PIPE, openPeripheralFrameChannel } from "../../../src/gatt/frame-channels.ts";
import { OWNER_COMMAND_CHARACTERISTIC, OWNER_PAIRING_SERVICE } from "../../../src/gatt/uuids.ts";
import { openRadioPeripheral } from "../../../src/ws/radio-client.ts";

const url = process.argv[2] ?? "";
const vehicle = await openRadioPeripheral(url, { nodeId: "vehicle-proc", mtu: 185 });
await vehicle.setServices([
  {
    uuid: OWNER_PAIRING_SERVICE,
    characteristics: [{ uuid: OWNER_COMMAND_CHARACTERISTIC, properties: ["write", "notify"] }],
  },
]);
vehicle.onConnection(async (connection) => {
  const channel = await openPeripheralFrameChannel(connection, OWNER_PAIRING_PIPE, { timeoutMs: 10_000 });
  channel.onFrame((frame) => {
    channel.sendFrame(frame.slice().reverse()).catch((error) => console.error(error));
  });
  channel.onClose(async () => {
    await vehicle.close();
    process.exit(0);
  });
});
await vehicle.startAdvertising({ serviceUuids: [OWNER_PAIRING_SERVICE], localName: "PK-PROC" });
console.log("ready");
