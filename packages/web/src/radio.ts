import { type Central, createWebBluetoothCentral, openRadioCentral, type RadioCentral } from "@pairkit/ble";
import type { ConsoleSettings } from "./api.ts";

export type Transport = "radio" | "web-bluetooth";

/** Web Bluetooth is offered only where the browser has it (Chromium, secure context). */
export function webBluetoothAvailable(): boolean {
  return typeof navigator !== "undefined" && "bluetooth" in navigator;
}

/** ATT MTU the page asks for on the WebSocket radio: a typical phone's. */
const PHONE_MTU = 185;

/**
 * The page's centrals: one WebSocket radio connection shared by the phone and the card views, or
 * a fresh Web Bluetooth central per use (its device chooser is the scan).
 */
export class Radios {
  #radio: Promise<RadioCentral> | undefined;

  constructor(private readonly settings: ConsoleSettings) {}

  central(transport: Transport): Promise<Central> {
    if (transport === "web-bluetooth") return Promise.resolve(createWebBluetoothCentral());
    const url = this.settings.radioUrl;
    if (!url) return Promise.reject(new Error("the server's console settings name no radio (radioUrl)"));
    this.#radio ??= openRadioCentral(url, { mtu: PHONE_MTU }).catch((error: unknown) => {
      this.#radio = undefined;
      throw error;
    });
    return this.#radio;
  }

  /** After a radio failure: the next use opens a new connection. */
  reset(error: unknown): void {
    const code = (error as { code?: unknown } | undefined)?.code;
    if (code !== "RADIO_CLOSED" && code !== "RADIO_UNREACHABLE") return;
    const stale = this.#radio;
    this.#radio = undefined;
    stale?.then((central) => central.close()).catch(() => {});
  }
}
