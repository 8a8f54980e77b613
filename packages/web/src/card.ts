import { connectToCard } from "@pairkit/ble";
import {
  ActiveCardPhone,
  type CardQrPayload,
  type CardSession,
  decodeQrFromRgba,
  type Link,
  MemoryPairedCardStore,
  nobleCrypto,
  PairkitError,
  parseQrPayload,
  QrCodeError,
  SoftwareWalletKeystore,
  TimeoutError,
} from "@pairkit/core";
import { call } from "./api.ts";
import { h, replaceChildren, statusLine } from "./dom.ts";
import { explainError } from "./explain.ts";
import { type Radios, type Transport, webBluetoothAvailable } from "./radio.ts";
import { WalletPanel } from "./wallet.ts";

interface DevCard {
  readonly name: string;
  readonly qrText: string;
  readonly qrPngBase64: string;
}

const CARD_TIMEOUT_MS = 15_000;
const CAMERA_SCAN_INTERVAL_MS = 250;

/**
 * Active Card pairing, phone side (@pairkit/core's ActiveCardPhone): read the card's QR code
 * from an image or the camera, pair and bind a user, reconnect without the code, forget; and
 * MPC wallets with a paired card. Paired cards and wallet shares live in this tab's memory.
 */
export class CardView {
  readonly element: HTMLElement;
  readonly #store = new MemoryPairedCardStore();
  readonly #phone = new ActiveCardPhone({ crypto: nobleCrypto, store: this.#store });
  /** The phone's MPC wallet shares, kept with its card pairings. */
  readonly #walletKeystore = SoftwareWalletKeystore.inMemory();
  readonly #walletPanel: WalletPanel;
  readonly #paired = new Map<string, CardQrPayload>();
  readonly #status = statusLine("card-status");
  readonly #scanned = h("div", { id: "card-scanned" });
  readonly #pairedList = h("div", { id: "card-paired", class: "stack" });
  readonly #transport = h("select", { id: "card-transport", name: "transport" });
  readonly #video = h("video", { id: "card-camera", playsinline: true, muted: true, hidden: true });

  constructor(private readonly radios: Radios) {
    this.#transport.append(h("option", { value: "radio" }, "WebSocket radio (simulated cards)"));
    if (webBluetoothAvailable())
      this.#transport.append(
        h("option", { value: "web-bluetooth" }, "Web Bluetooth (this computer's adapter)"),
      );
    const file = h("input", { id: "card-qr-file", type: "file", accept: "image/*" });
    file.addEventListener("change", () => {
      const chosen = file.files?.[0];
      if (!chosen) return;
      this.#status.set("info", "Reading the QR code…");
      readQrFromFile(chosen)
        .then((text) => this.#scannedCode(text))
        .catch((error: unknown) => this.#status.set("error", explainError(error)))
        .finally(() => {
          file.value = "";
        });
    });
    const cameraAllowed = typeof navigator.mediaDevices?.getUserMedia === "function";
    const gallery = h("div", { id: "dev-cards", class: "stack" });
    this.#walletPanel = new WalletPanel(
      {
        pairedCards: () => [...this.#paired.values()],
        open: (deviceId) => {
          const qr = this.#paired.get(deviceId);
          return qr ? this.#reconnect(qr) : Promise.resolve(undefined);
        },
      },
      this.#walletKeystore,
    );
    void this.#loadDevCards(gallery);
    this.element = h(
      "section",
      { id: "card", "aria-label": "Active Card" },
      h(
        "div",
        { class: "card" },
        h("h2", {}, "Simulated cards"),
        h(
          "p",
          { class: "muted" },
          "The code each simulated card shows on its display. Save it, or point a camera at it.",
        ),
        gallery,
      ),
      h(
        "div",
        { class: "card phone" },
        h("h2", {}, "Pair an Active Card"),
        h("div", { class: "row" }, h("label", { for: "card-transport" }, "Radio"), this.#transport),
        h("div", { class: "field" }, h("label", { for: "card-qr-file" }, "QR code image"), file),
        cameraAllowed
          ? h(
              "button",
              { id: "card-camera-start", type: "button", onclick: () => void this.#scanCamera() },
              "Scan with the camera",
            )
          : h("p", { class: "muted" }, "No camera access in this browser: upload an image instead."),
        this.#video,
        this.#scanned,
        this.#status.element,
        h("h3", {}, "Paired cards"),
        this.#pairedList,
      ),
      this.#walletPanel.element,
    );
    this.#renderPaired();
  }

  async #loadDevCards(gallery: HTMLElement): Promise<void> {
    try {
      const { cards } = await call<{ cards: DevCard[] }>("GET", "/dev/cards");
      replaceChildren(
        gallery,
        cards.length === 0 ? h("p", { class: "muted" }, "No simulated card is running.") : null,
        ...cards.map((c) =>
          h(
            "figure",
            { class: "dev-card", "data-card-name": c.name },
            h("img", {
              src: `data:image/png;base64,${c.qrPngBase64}`,
              alt: `QR code of ${c.name}`,
              width: 200,
              height: 200,
            }),
            h(
              "figcaption",
              {},
              c.name,
              " · ",
              h(
                "a",
                { href: `data:image/png;base64,${c.qrPngBase64}`, download: `${c.name}.png` },
                "save image",
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      replaceChildren(gallery, h("p", { class: "status", "data-tone": "error" }, explainError(error)));
    }
  }

  #scannedCode(text: string): void {
    let qr: CardQrPayload;
    try {
      qr = parseQrPayload(text, Date.now());
    } catch (error) {
      this.#status.set("error", explainError(error));
      return;
    }
    this.#status.set("ok", `Found card ${qr.deviceName}. Bind it to a user and pair.`);
    const user = h("input", {
      id: "card-user",
      name: "user",
      required: true,
      placeholder: "user the card is bound to (e-mail)",
    });
    const pair = h("button", { id: "card-pair", type: "submit" }, "Pair card");
    replaceChildren(
      this.#scanned,
      h(
        "form",
        {
          class: "stack",
          onsubmit: (event) => {
            event.preventDefault();
            pair.disabled = true;
            this.#pair(qr, user.value.trim()).finally(() => {
              pair.disabled = false;
            });
          },
        },
        h("p", {}, `${qr.deviceName} · firmware ${qr.firmwareVersion} · id ${qr.deviceId}`),
        h("div", { class: "field" }, h("label", { for: "card-user" }, "Bind to user"), user),
        pair,
      ),
    );
  }

  async #pair(qr: CardQrPayload, userId: string): Promise<void> {
    this.#status.set("info", `Pairing with ${qr.deviceName}…`);
    try {
      const session = await this.#connect(qr, (link) => this.#phone.pair(link, qr, userId));
      await session.close();
      this.#paired.set(qr.deviceId, qr);
      replaceChildren(this.#scanned);
      this.#status.set("ok", `Paired with ${qr.deviceName}; bound to ${userId}.`);
    } catch (error) {
      this.#fail(error);
    }
    this.#renderPaired();
  }

  async #reconnect(qr: CardQrPayload): Promise<CardSession | undefined> {
    this.#status.set("info", `Reconnecting to ${qr.deviceName}…`);
    try {
      const session = await this.#connect(qr, (link) => this.#phone.reconnect(link, qr.deviceId));
      this.#status.set("ok", `Reconnected to ${qr.deviceName}: encrypted session established.`);
      return session;
    } catch (error) {
      this.#fail(error);
      return undefined;
    }
  }

  async #forget(qr: CardQrPayload): Promise<void> {
    const session = await this.#reconnect(qr);
    if (!session) return;
    try {
      await session.forget();
      // The card erased its wallet shares with the pairing; the phone's halves are useless now.
      await this.#walletPanel.forgetCard(qr.deviceId);
      this.#status.set("ok", `${qr.deviceName} and this phone have forgotten each other.`);
    } catch (error) {
      this.#fail(error);
    } finally {
      await session.close();
    }
    this.#renderPaired();
  }

  #fail(error: unknown): void {
    this.radios.reset(error);
    this.#status.set("error", explainError(error));
  }

  /** Cards this page paired; a forgotten one stays listed so reconnecting shows the refusal. */
  #renderPaired(): void {
    this.#walletPanel.refresh();
    replaceChildren(
      this.#pairedList,
      this.#paired.size === 0 ? h("p", { class: "muted" }, "None yet.") : null,
      ...[...this.#paired.values()].map((qr) =>
        h(
          "article",
          { class: "paired-card row", "data-device-id": qr.deviceId },
          h("span", {}, qr.deviceName),
          h(
            "button",
            {
              class: "card-reconnect",
              type: "button",
              onclick: () => void this.#reconnect(qr).then((session) => session?.close()),
            },
            "Reconnect",
          ),
          h(
            "button",
            { class: "card-forget", type: "button", onclick: () => void this.#forget(qr) },
            "Forget",
          ),
        ),
      ),
    );
  }

  /** Runs `handshake` with the card of `qr` (found by its key's hint; a failed attempt lets it go). */
  async #connect(qr: CardQrPayload, handshake: (link: Link) => Promise<CardSession>): Promise<CardSession> {
    const central = await this.radios.central(this.#transport.value as Transport);
    const card = { crypto: nobleCrypto, identityPublicKey: qr.identityPublicKey, timeoutMs: CARD_TIMEOUT_MS };
    return connectToCard(central, card, handshake).catch((error: unknown) => {
      if (error instanceof TimeoutError)
        throw new PairkitError("CARD_NOT_FOUND", `no card ${qr.deviceName} nearby`, { cause: error });
      throw error;
    });
  }

  async #scanCamera(): Promise<void> {
    const video = this.#video;
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch {
      this.#status.set(
        "error",
        "The camera is not available (permission refused or no camera). Upload an image instead.",
      );
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    this.#status.set("info", "Point the camera at the card's display…");
    const canvas = document.createElement("canvas");
    const stop = () => {
      clearInterval(timer);
      for (const track of stream.getTracks()) track.stop();
      video.hidden = true;
    };
    const timer = setInterval(() => {
      if (video.videoWidth === 0) return;
      try {
        this.#scannedCode(decodeQrFromRgba(...frame(canvas, video, video.videoWidth, video.videoHeight)));
        stop();
      } catch (error) {
        if (!(error instanceof QrCodeError && error.code === "QR_NOT_FOUND")) {
          stop();
          this.#status.set("error", explainError(error));
        }
      }
    }, CAMERA_SCAN_INTERVAL_MS);
  }
}

/** Draws `source` on `canvas` and returns its RGBA pixels in decodeQrFromRgba's argument order. */
function frame(
  canvas: HTMLCanvasElement,
  source: CanvasImageSource,
  width: number,
  height: number,
): [Uint8ClampedArray, number, number] {
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (!context) throw new QrCodeError("QR_IMAGE_INVALID", "no 2D canvas in this browser");
  context.drawImage(source, 0, 0);
  return [context.getImageData(0, 0, width, height).data, width, height];
}

async function readQrFromFile(file: Blob): Promise<string> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (cause) {
    throw new QrCodeError("QR_IMAGE_INVALID", "the file is not an image", { cause });
  }
  try {
    return decodeQrFromRgba(...frame(document.createElement("canvas"), bitmap, bitmap.width, bitmap.height));
  } finally {
    bitmap.close();
  }
}
