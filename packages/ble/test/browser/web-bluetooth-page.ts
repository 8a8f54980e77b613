// Runs in the browser page of web-bluetooth.test.ts: the Web Bluetooth central end to end, from
// the device chooser to frames written on the owner pairing pipe.
import { createWebBluetoothCentral } from "../../src/adapters/web-bluetooth-central.ts";
import { findPeripheral } from "../../src/gatt/connect.ts";
import { OWNER_PAIRING_PIPE, openCentralFrameChannel } from "../../src/gatt/frame-channels.ts";
import { OWNER_PAIRING_SERVICE } from "../../src/gatt/uuids.ts";

interface PageReport {
  peripheralId: string;
  localName: string | undefined;
  services: { uuid: string; characteristics: { uuid: string; properties: readonly string[] }[] }[];
  mtu: number | undefined;
  closeCode: string | undefined;
}

async function run(): Promise<PageReport> {
  const central = createWebBluetoothCentral();
  const found = await findPeripheral(central, {
    timeoutMs: 20_000,
    filters: [
      {
        services: [OWNER_PAIRING_SERVICE],
        manufacturerData: { companyId: 0xffff, dataPrefix: Uint8Array.of(1) },
      },
    ],
  });
  const client = await central.connect(found.peripheralId, { timeoutMs: 20_000 });
  const services = await client.discoverServices();
  const channel = await openCentralFrameChannel(client, OWNER_PAIRING_PIPE);
  const closed = new Promise<unknown>((resolve) => channel.onClose(resolve));
  await channel.sendFrame(Uint8Array.of(0x01, 0x02, 0x03));
  await channel.sendFrame(new TextEncoder().encode("second frame"));
  (window as unknown as { pairkitWritten: boolean }).pairkitWritten = true;
  const cause = await closed;
  return {
    peripheralId: found.peripheralId,
    localName: found.data.localName,
    services: services.map((s) => ({ uuid: s.uuid, characteristics: [...s.characteristics] })),
    mtu: channel.mtu,
    closeCode: (cause as { code?: string } | undefined)?.code,
  };
}

const button = document.createElement("button");
button.id = "pair";
button.textContent = "Pair";
document.body.append(button);
// requestDevice needs a user gesture: the test clicks the button.
button.addEventListener("click", () => {
  (window as unknown as { pairkitResult: Promise<PageReport> }).pairkitResult = run();
});
