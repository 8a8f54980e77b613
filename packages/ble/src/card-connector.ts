import {
  CardProtocolError,
  type Crypto,
  cardAdvertisementHint,
  DEFAULT_SCAN_TIMEOUT_MS,
  TimeoutError,
  TransportError,
} from "@pairkit/core";
import { FramedLink } from "./framed-link.ts";
import { DeviceKind, pairkitScanFilter } from "./gatt/advertising-data.ts";
import { ACTIVE_CARD_PIPE, openCentralFrameChannel } from "./gatt/frame-channels.ts";
import type { Central } from "./gatt/types.ts";

export interface CardConnectOptions {
  readonly crypto: Crypto;
  /** The card's identity public key: from its QR code, or the stored one on a reconnect. */
  readonly identityPublicKey: Uint8Array;
  /** How long to scan for candidates (default 15 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * The phone's way to an Active Card (docs/protocol.md §2.1, §4): scan for Active Card
 * advertisers whose manufacturer data carries the hint of `identityPublicKey`, connect to each
 * in turn and run `handshake` on its framed link. A candidate that proves to be another card
 * (WRONG_CARD: a 4-byte hint can collide) or cannot be connected is closed and the next is
 * tried; any other failure is final, since the card has proved itself and something else
 * broke. `handshake` owns the link once it resolves (the returned session closes it); on a
 * failure the link is closed here. Rejects with the last candidate's error, or a
 * `TimeoutError` when no candidate advertised within the scan time.
 */
export async function connectToCard<T>(
  central: Central,
  options: CardConnectOptions,
  handshake: (link: FramedLink) => Promise<T>,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS;
  const hint = cardAdvertisementHint(options.crypto, options.identityPublicKey);
  let lastError: unknown;
  for await (const candidate of central.scan({
    filters: [pairkitScanFilter(DeviceKind.ACTIVE_CARD, hint)],
    timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
  })) {
    let link: FramedLink;
    try {
      link = await openLink(central, candidate.peripheralId, options.crypto, timeoutMs, options.signal);
    } catch (error) {
      if (!(error instanceof TransportError || error instanceof TimeoutError)) throw error;
      lastError = error;
      continue;
    }
    try {
      return await handshake(link);
    } catch (error) {
      await link.close();
      if (!(error instanceof CardProtocolError && error.code === "WRONG_CARD")) throw error;
      lastError = error;
    }
  }
  throw lastError ?? new TimeoutError("scan", timeoutMs);
}

async function openLink(
  central: Central,
  peripheralId: string,
  crypto: Crypto,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<FramedLink> {
  const client = await central.connect(peripheralId, { timeoutMs, ...(signal ? { signal } : {}) });
  try {
    const channel = await openCentralFrameChannel(client, ACTIVE_CARD_PIPE, signal ? { signal } : {});
    return new FramedLink(channel, { role: "central", crypto });
  } catch (error) {
    await client.disconnect().catch(() => {});
    throw error;
  }
}
