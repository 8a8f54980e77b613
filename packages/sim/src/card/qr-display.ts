import { type Clock, QR_REFRESH_SECONDS, systemClock } from "@pairkit/core";
import type { CardSimulator } from "./card-simulator.ts";

export interface QrDisplayOptions {
  /** Draws one rendering of the code (terminal, PNG file, web fixture …); awaited in order. */
  readonly render: (text: string) => Promise<void>;
  /** A rendering that failed; the display keeps refreshing. */
  readonly onError: (error: unknown) => void;
  /** The card's clock (the code's timestamp comes from it); default the system clock. */
  readonly clock?: Clock;
}

/** What {@link showCardQr} returns: the code on the display now, and a way to switch it off. */
export interface QrDisplay {
  readonly text: string;
  stop(): void;
}

/**
 * The card's display (docs/protocol.md §4.1): renders the QR code now and again with a fresh
 * timestamp every {@link QR_REFRESH_SECONDS}, so what a user scans is never older than that and a
 * photograph of it goes stale. Resolves once the first rendering is done.
 */
export async function showCardQr(card: CardSimulator, options: QrDisplayOptions): Promise<QrDisplay> {
  const clock = options.clock ?? systemClock;
  let text = card.qrText();
  let cancel: (() => void) | undefined;
  let drawing = Promise.resolve();
  const schedule = () => {
    cancel = clock.setTimeout(() => {
      text = card.qrText();
      const shown = text;
      drawing = drawing.then(() => options.render(shown)).catch(options.onError);
      schedule();
    }, QR_REFRESH_SECONDS * 1000);
  };
  await options.render(text);
  schedule();
  return {
    get text() {
      return text;
    },
    stop() {
      cancel?.();
      cancel = undefined;
    },
  };
}
