import {
  ACTIVE_CARD_MESSAGE_CHARACTERISTIC,
  ACTIVE_CARD_PIPE,
  ACTIVE_CARD_SERVICE,
  DeviceKind,
  FramedLink,
  openPeripheralFrameChannel,
  type Peripheral,
  pairkitManufacturerData,
} from "@pairkit/ble";
import { type Crypto, cardAdvertisementHint, type PairkitError } from "@pairkit/core";
import type { CardSimulator } from "./card-simulator.ts";

export interface CardPeripheralOptions {
  readonly crypto: Crypto;
  /** Every session that ends in error. */
  readonly onError?: (error: PairkitError) => void;
  /** A connection whose central never subscribes to the pipe is dropped after this (default 10 s). */
  readonly subscribeTimeoutMs?: number;
}

/**
 * Puts the card on the air: the Active Card GATT service (one write + notify characteristic
 * carrying frames, docs §2), advertised with its service UUID, the hint of its identity key in
 * the manufacturer data (the phone finds the card of a QR code by it, docs §2.1) and its device
 * name (for people only); every connection gets its own framed Link that the card serves until
 * the phone disconnects.
 */
export async function serveCardOnPeripheral(
  peripheral: Peripheral,
  card: CardSimulator,
  options: CardPeripheralOptions,
): Promise<void> {
  await peripheral.setServices([
    {
      uuid: ACTIVE_CARD_SERVICE,
      characteristics: [{ uuid: ACTIVE_CARD_MESSAGE_CHARACTERISTIC, properties: ["write", "notify"] }],
    },
  ]);
  peripheral.onConnection((connection) => {
    openPeripheralFrameChannel(connection, ACTIVE_CARD_PIPE, {
      timeoutMs: options.subscribeTimeoutMs ?? 10_000,
    })
      .then((channel) => {
        const link = new FramedLink(channel, { role: "peripheral", crypto: options.crypto });
        return card.serve(link, options.onError ? { onError: options.onError } : {});
      })
      .catch((error: unknown) => options.onError?.(error as PairkitError));
  });
  await peripheral.startAdvertising({
    serviceUuids: [ACTIVE_CARD_SERVICE],
    manufacturerData: pairkitManufacturerData(
      DeviceKind.ACTIVE_CARD,
      cardAdvertisementHint(options.crypto, card.identityPublicKey),
    ),
    localName: card.qrPayload().deviceName,
  });
}
