import { ApiError, type PairingLogPhase, toHex } from "@pairkit/core";
import { call } from "./api.ts";
import { h, replaceChildren, statusLine } from "./dom.ts";
import { explainError, explainPairingFailure } from "./explain.ts";
import { type PasswordReply, type PendingPairing, PhoneDevice, pendingPairingFrom } from "./phone-device.ts";
import { type Radios, type Transport, webBluetoothAvailable } from "./radio.ts";
import { signInForm } from "./sign-in.ts";

interface OwnedVehicle {
  readonly vehicleId: string;
  readonly vin: string;
  readonly model: string;
  readonly subscribed: boolean;
  readonly subscriptionValidUntil: string | null;
  readonly ownerKey: { readonly keyId: string; readonly state: string; readonly attested: boolean } | null;
}

type Status = ReturnType<typeof statusLine>;

interface VehicleParts {
  readonly status: Status;
  /** The last pairing's phases. */
  readonly progress: HTMLOListElement;
  /** Password and start button while a password waits; the unlock button once paired. */
  readonly body: HTMLElement;
}

const PHASES: readonly [PairingLogPhase, string][] = [
  ["connect", "Find and connect to the vehicle"],
  ["select", "Agree on the protocol"],
  ["spake2", "Check the pairing password (SPAKE2+)"],
  ["config", "Receive the vehicle's configuration"],
  ["endpoint", "Create the key in the secure element"],
  ["finalize", "Vehicle stores the key"],
  ["attestation", "Key tracking server attests the key"],
];

/**
 * The phone emulator: sign in, list the vehicles the user owns, ask for a pairing password,
 * pair with the real phone SDK over the WebSocket radio (or Web Bluetooth), then unlock.
 */
export class PhoneView {
  readonly element: HTMLElement;
  readonly #device: PhoneDevice;
  readonly #pending = new Map<string, PendingPairing>();
  readonly #vehicleParts = new Map<string, VehicleParts>();
  readonly #vehicles = h("div", { id: "phone-vehicles", class: "stack" });
  readonly #notice = statusLine("phone-notice");
  readonly #transport = h("select", { id: "phone-transport", name: "transport" });
  #token: string | undefined;

  constructor(radios: Radios) {
    this.#device = new PhoneDevice(radios);
    this.#transport.append(h("option", { value: "radio" }, "WebSocket radio (simulated vehicles)"));
    if (webBluetoothAvailable())
      this.#transport.append(
        h("option", { value: "web-bluetooth" }, "Web Bluetooth (this computer's adapter)"),
      );
    this.element = h(
      "section",
      { id: "phone", class: "phone", "aria-label": "Phone emulator" },
      h("h2", {}, "Phone"),
      signInForm({
        id: "phone",
        defaultUser: "alice",
        onSignedIn: async (token) => {
          this.#token = token;
          await this.refresh();
        },
      }),
      h("div", { class: "row" }, h("label", { for: "phone-transport" }, "Radio"), this.#transport),
      this.#notice.element,
      this.#vehicles,
    );
  }

  /** A password redeemed from the e-mailed link waits here until the owner starts pairing. */
  async redeem(token: string): Promise<void> {
    this.#notice.set("info", "Redeeming the link from your e-mail…");
    try {
      const reply = await call<PasswordReply>("POST", "/portal/redeem", { body: { token } });
      const pending = pendingPairingFrom(reply);
      this.#pending.set(pending.vehicleId, pending);
      this.#renderPairing(pending.vehicleId);
      this.#notice.set(
        "ok",
        `Link redeemed: a pairing password for ${pending.vehicleId} is ready. Sign in as its owner and start pairing.`,
      );
      await this.refresh();
    } catch (error) {
      this.#notice.set("error", explainError(error));
    }
  }

  async refresh(): Promise<void> {
    if (!this.#token) return;
    try {
      const { vehicles } = await call<{ vehicles: OwnedVehicle[] }>("GET", "/me/vehicles", {
        token: this.#token,
      });
      replaceChildren(
        this.#vehicles,
        vehicles.length === 0 ? h("p", { class: "muted" }, "You own no vehicles.") : null,
        ...vehicles.map((v) => this.#vehicleCard(v)),
      );
    } catch (error) {
      this.#notice.set("error", explainError(error));
    }
  }

  /** A vehicle's status and pairing area outlive re-renders of the list. */
  #parts(vehicleId: string): VehicleParts {
    let parts = this.#vehicleParts.get(vehicleId);
    if (!parts) {
      parts = {
        status: statusLine(`status-${vehicleId}`),
        progress: h("ol", { class: "progress" }),
        body: h("div", { class: "stack" }),
      };
      this.#vehicleParts.set(vehicleId, parts);
      this.#renderPairing(vehicleId);
    }
    return parts;
  }

  #vehicleCard(v: OwnedVehicle): HTMLElement {
    const { status, progress, body } = this.#parts(v.vehicleId);
    const replace = h("input", { type: "checkbox", name: "replaceExisting", class: "replace-existing" });
    const card = h(
      "article",
      { class: "vehicle card", "data-vehicle-id": v.vehicleId },
      h("h3", {}, `${v.model}`),
      h(
        "p",
        { class: "muted" },
        `${v.vehicleId} · VIN ${v.vin} · `,
        v.subscribed
          ? `subscribed${v.subscriptionValidUntil ? ` until ${v.subscriptionValidUntil.slice(0, 10)}` : ""}`
          : "no subscription",
      ),
      h(
        "p",
        { class: "key-state" },
        v.ownerKey
          ? `Owner key on file (record ${v.ownerKey.keyId.slice(0, 8)}…): ${v.ownerKey.state}${v.ownerKey.attested ? ", attested" : ""}`
          : "No owner key yet.",
      ),
      h(
        "div",
        { class: "row" },
        h(
          "button",
          {
            class: "add-key",
            type: "button",
            onclick: () => {
              status.set(
                "info",
                "Asking the server for a pairing password (it provisions the vehicle first)…",
              );
              this.#requestPassword(v.vehicleId, replace.checked)
                .then(() => {
                  replaceChildren(progress);
                  status.set("ok", "Pairing password issued. Start pairing near the vehicle.");
                  this.#renderPairing(v.vehicleId);
                })
                .catch((error: unknown) => status.set("error", explainError(error)));
            },
          },
          "Add digital key",
        ),
        h("label", {}, replace, " replace the existing key"),
      ),
      status.element,
      progress,
      body,
    );
    return card;
  }

  async #requestPassword(vehicleId: string, replaceExisting: boolean): Promise<void> {
    const reply = await call<PasswordReply>("POST", "/pairing/password/request", {
      token: this.#token,
      body: {
        vehicleId,
        deviceInfo: { platform: "web", model: navigator.userAgent.slice(0, 100), appVersion: "console" },
        ...(replaceExisting && { replaceExisting: true }),
      },
    });
    this.#pending.set(vehicleId, pendingPairingFrom(reply));
  }

  /** The pairing screen for a vehicle with a password waiting, and the unlock button once paired. */
  #renderPairing(vehicleId: string): void {
    const parts = this.#vehicleParts.get(vehicleId);
    if (!parts) return;
    const { status, progress, body } = parts;
    const pending = this.#pending.get(vehicleId);
    const paired = this.#device.key(vehicleId);
    replaceChildren(body);
    if (pending) {
      // The password is the one secret shown: a person may need to read it out or type it.
      const password = h("input", {
        class: "password",
        name: "password",
        value: pending.password,
        inputmode: "numeric",
        autocomplete: "off",
        "aria-label": "Pairing password",
      });
      const start = h("button", { class: "start-pairing", type: "button" }, "Start pairing");
      start.addEventListener("click", () => {
        start.disabled = true;
        this.#pair(vehicleId, { ...pending, password: password.value.trim() }, progress, status)
          .then((paired) => {
            if (paired) this.#pending.delete(vehicleId);
            this.#renderPairing(vehicleId);
            return this.refresh();
          })
          .finally(() => {
            start.disabled = false;
          });
      });
      body.append(
        h(
          "div",
          { class: "row" },
          h("label", {}, "Pairing password ", password),
          h("span", { class: "muted" }, `valid until ${new Date(pending.expiresAt).toLocaleTimeString()}`),
        ),
        start,
      );
    }
    if (paired) {
      const unlock = h("button", { class: "unlock", type: "button" }, "Unlock");
      unlock.addEventListener("click", () => {
        unlock.disabled = true;
        status.set("info", "Unlocking…");
        this.#device
          .unlock(vehicleId, this.#transport.value as Transport)
          .then((result) => {
            if (result.ok) status.set("ok", `Unlocked (transaction ${result.transactionId.slice(0, 8)}…).`);
            else status.set("error", explainError(result.error));
          })
          .catch((error: unknown) => status.set("error", explainError(error)))
          .finally(() => {
            unlock.disabled = false;
          });
      });
      body.append(
        h(
          "p",
          { class: "paired" },
          `This phone holds key ${toHex(paired.keyId).slice(0, 8)}… for this vehicle.`,
        ),
        unlock,
      );
    }
  }

  async #pair(
    vehicleId: string,
    bootstrap: PendingPairing,
    progress: HTMLOListElement,
    status: Status,
  ): Promise<boolean> {
    const token = this.#token;
    if (!token) {
      status.set("error", explainError(new ApiError("UNAUTHENTICATED", "sign in first")));
      return false;
    }
    const items = new Map(PHASES.map(([phase, label]) => [phase, h("li", { "data-phase": phase }, label)]));
    replaceChildren(progress, ...items.values());
    let current: HTMLElement | undefined;
    status.set("info", `Pairing with ${vehicleId}…`);
    try {
      const result = await this.#device.pair({
        bootstrap,
        token,
        transport: this.#transport.value as Transport,
        onProgress: ({ phase }) => {
          if (current) current.dataset.state = "done";
          current = items.get(phase);
          if (current) current.dataset.state = "active";
        },
      });
      if (result.ok) {
        if (current) current.dataset.state = "done";
        status.set(
          "ok",
          `Paired: key ${toHex(result.key.keyId).slice(0, 8)}…${result.key.attested ? ", attested by the KTS" : ", attestation still owed"}.`,
        );
        return true;
      }
      if (current) current.dataset.state = "failed";
      status.set("error", explainPairingFailure(result.error));
    } catch (error) {
      if (current) current.dataset.state = "failed";
      status.set("error", explainError(error));
    }
    return false;
  }
}
