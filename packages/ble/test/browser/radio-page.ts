// Runs in the browser page of web-bluetooth.test.ts: a central on the WebSocket radio, sharing
// the air with a vehicle in the test's Node process, over an encrypted FramedLink.
import { constantTimeEqual, nobleCrypto } from "@pairkit/core";
import { FramedLink } from "../../src/framed-link.ts";
import { FrameType } from "../../src/framing/frame-type.ts";
import { RESPONSE_TIMEOUT_MS } from "../../src/framing/timeouts.ts";
import { findPeripheral } from "../../src/gatt/connect.ts";
import { OWNER_PAIRING_PIPE, openCentralFrameChannel } from "../../src/gatt/frame-channels.ts";
import { OWNER_PAIRING_SERVICE } from "../../src/gatt/uuids.ts";
import { openRadioCentral } from "../../src/ws/radio-client.ts";

async function run(url: string, kenc: number[]) {
  const central = await openRadioCentral(url, { mtu: 185 });
  const found = await findPeripheral(central, {
    timeoutMs: 10_000,
    filters: [{ services: [OWNER_PAIRING_SERVICE] }],
  });
  const client = await central.connect(found.peripheralId, { timeoutMs: 10_000 });
  const link = new FramedLink(await openCentralFrameChannel(client, OWNER_PAIRING_PIPE), {
    role: "central",
    crypto: nobleCrypto,
  });
  link.secure(Uint8Array.from(kenc));
  const config = Uint8Array.from({ length: 700 }, (_, i) => i & 0xff);
  await link.send({ type: FrameType.DEVICE_CONFIG, payload: config });
  const ack = await link.receive({ timeoutMs: RESPONSE_TIMEOUT_MS });
  await link.close();
  await central.close();
  return {
    peripheralId: found.peripheralId,
    ackType: ack.type,
    echoed: constantTimeEqual(ack.payload, config),
  };
}

(window as unknown as { pairkitRadio: typeof run }).pairkitRadio = run;
