import {
  type CardSession,
  CardWallets,
  type CiphersuiteName,
  chainPublicKey,
  chainPublicKeyFormat,
  encodeBase64,
  nobleCrypto,
  toHex,
  utf8,
  type WalletKeystore,
  type WalletPublic,
} from "@pairkit/core";
import { h, replaceChildren, statusLine } from "./dom.ts";
import { explainError } from "./explain.ts";

const SUITES: readonly [CiphersuiteName, string][] = [
  ["secp256k1-taproot", "secp256k1 Taproot (BIP340)"],
  ["ed25519", "Ed25519"],
  ["p256", "P-256"],
];

/** What the panel needs of the card page: its paired cards and an open session to one. */
export interface WalletHost {
  /** Paired cards, by device id, with a name to show. */
  pairedCards(): readonly { deviceId: string; deviceName: string }[];
  /** An encrypted session with the card, or undefined after the host showed why not. */
  open(deviceId: string): Promise<CardSession | undefined>;
}

/**
 * MPC wallets with a paired card (@pairkit/core's CardWallets, docs/protocol.md §4.11): create a
 * 2-of-2 wallet — or 2-of-3 with a recovery kit sealed to a passphrase, offered as a download —
 * sign a text with the card, and show the group key and signature in the chain's encoding.
 * The phone's shares live in the card page's keystore, next to its pairings.
 */
export class WalletPanel {
  readonly element: HTMLElement;
  readonly #status = statusLine("wallet-status");
  readonly #card = h("select", { id: "wallet-card", name: "card" });
  readonly #suite = h("select", { id: "wallet-suite", name: "ciphersuite" });
  readonly #label = h("input", { id: "wallet-label", name: "label", maxlength: 64, value: "console" });
  readonly #passphrase = h("input", {
    id: "wallet-recovery-passphrase",
    name: "recovery-passphrase",
    type: "password",
    autocomplete: "new-password",
    minlength: 8,
    "aria-describedby": "wallet-recovery-help",
  });
  readonly #wallet = h("select", { id: "wallet-select", name: "wallet" });
  readonly #message = h("textarea", { id: "wallet-message", name: "message", rows: 2, maxlength: 512 });
  readonly #details = h("dl", { id: "wallet-details", class: "hex" });
  readonly #kit = h("p", { id: "wallet-recovery-kit" });
  readonly #wallets = new Map<string, WalletPublic>();

  constructor(
    private readonly host: WalletHost,
    private readonly keystore: WalletKeystore,
  ) {
    for (const [value, text] of SUITES) this.#suite.append(h("option", { value }, text));
    const create = h("button", { id: "wallet-create", type: "submit" }, "Create wallet");
    const sign = h("button", { id: "wallet-sign", type: "submit" }, "Sign with the card");
    this.element = h(
      "div",
      { id: "wallet", class: "card phone", role: "region", "aria-labelledby": "wallet-heading" },
      h("h2", { id: "wallet-heading" }, "MPC wallet"),
      h(
        "p",
        { class: "muted" },
        "The phone and the card each hold a share of the signing key; neither can sign alone.",
      ),
      h(
        "form",
        {
          class: "stack",
          onsubmit: (event) => {
            event.preventDefault();
            void busy(create, () => this.#create());
          },
        },
        h("div", { class: "field" }, h("label", { for: "wallet-card" }, "Card"), this.#card),
        h("div", { class: "field" }, h("label", { for: "wallet-suite" }, "Chain"), this.#suite),
        h("div", { class: "field" }, h("label", { for: "wallet-label" }, "Label"), this.#label),
        h(
          "div",
          { class: "field" },
          h("label", { for: "wallet-recovery-passphrase" }, "Recovery passphrase (optional)"),
          this.#passphrase,
          h(
            "p",
            { id: "wallet-recovery-help", class: "muted" },
            "With a passphrase the wallet is 2-of-3: a third share is sealed to it in a recovery kit to keep offline.",
          ),
        ),
        create,
      ),
      this.#kit,
      h(
        "form",
        {
          class: "stack",
          onsubmit: (event) => {
            event.preventDefault();
            void busy(sign, () => this.#sign());
          },
        },
        h("div", { class: "field" }, h("label", { for: "wallet-select" }, "Wallet"), this.#wallet),
        h("div", { class: "field" }, h("label", { for: "wallet-message" }, "Text to sign"), this.#message),
        sign,
      ),
      this.#status.element,
      this.#details,
    );
    this.refresh();
  }

  /** Re-reads the paired cards (the card page calls this when they change). */
  refresh(): void {
    const cards = this.host.pairedCards();
    const chosen = this.#card.value;
    replaceChildren(
      this.#card,
      ...cards.map((c) => h("option", { value: c.deviceId, selected: c.deviceId === chosen }, c.deviceName)),
    );
    this.#card.disabled = cards.length === 0;
    if (cards.length === 0) this.#status.set("info", "Pair a card first.");
  }

  /** Erases the phone's shares of the wallets made with a card that forgot this phone. */
  async forgetCard(deviceId: string): Promise<void> {
    for (const held of await this.keystore.list()) {
      if (held.deviceId !== deviceId) continue;
      await this.keystore.delete(held.wallet.walletId);
      this.#wallets.delete(toHex(held.wallet.walletId));
    }
    this.#renderWallets(this.#wallet.value);
    replaceChildren(this.#details);
    replaceChildren(this.#kit);
  }

  async #create(): Promise<void> {
    const deviceId = this.#card.value;
    if (!deviceId) return this.#status.set("error", "Pair a card first.");
    const passphrase = this.#passphrase.value;
    const session = await this.host.open(deviceId);
    if (!session) return;
    this.#status.set(
      "info",
      passphrase
        ? "Creating a 2-of-3 wallet with the card and sealing its recovery kit…"
        : "Creating a 2-of-2 wallet with the card…",
    );
    try {
      const { wallet, recoveryKit } = await this.#cardWallets(session).createWallet({
        ciphersuite: this.#suite.value as CiphersuiteName,
        label: this.#label.value,
        ...(passphrase ? { recovery: { passphrase } } : {}),
      });
      this.#passphrase.value = "";
      this.#wallets.set(toHex(wallet.walletId), wallet);
      this.#renderWallets(toHex(wallet.walletId));
      replaceChildren(
        this.#kit,
        recoveryKit
          ? h(
              "a",
              {
                id: "wallet-recovery-download",
                href: `data:application/octet-stream;base64,${encodeBase64(recoveryKit)}`,
                download: `pairkit-recovery-${toHex(wallet.walletId)}.bin`,
              },
              "Download the recovery kit",
            )
          : null,
      );
      this.#show(wallet);
      this.#status.set(
        "ok",
        `Wallet created (${wallet.minSigners}-of-${wallet.maxSigners}); ${recoveryKit ? "download its recovery kit and keep it offline." : "the phone keeps its share."}`,
      );
    } catch (error) {
      this.#status.set("error", explainError(error));
    } finally {
      await session.close();
    }
  }

  async #sign(): Promise<void> {
    const wallet = this.#wallets.get(this.#wallet.value);
    if (!wallet) return this.#status.set("error", "Create a wallet first.");
    const text = this.#message.value;
    if (text === "") return this.#status.set("error", "Type the text to sign.");
    const share = await this.keystore.list();
    const deviceId = share.find((s) => toHex(s.wallet.walletId) === toHex(wallet.walletId))?.deviceId;
    if (!deviceId) return this.#status.set("error", "This phone no longer holds a share of the wallet.");
    const session = await this.host.open(deviceId);
    if (!session) return;
    this.#status.set("info", "Signing with the card…");
    try {
      const signature = await this.#cardWallets(session).sign(wallet.walletId, { message: utf8(text) });
      this.#show(wallet, { text, signature });
      this.#status.set("ok", "Signed: the signature verifies under the wallet's public key.");
    } catch (error) {
      this.#status.set("error", explainError(error));
    } finally {
      await session.close();
    }
  }

  #cardWallets(session: CardSession): CardWallets {
    return new CardWallets(session, { crypto: nobleCrypto, keystore: this.keystore });
  }

  #renderWallets(chosen: string): void {
    replaceChildren(
      this.#wallet,
      ...[...this.#wallets.entries()].map(([id, w]) =>
        h(
          "option",
          { value: id, selected: id === chosen },
          `${w.label || "wallet"} · ${w.ciphersuite} · ${id.slice(0, 8)}`,
        ),
      ),
    );
  }

  /** The wallet's public key and, after a signature, what was signed, in the chain's encodings. */
  #show(wallet: WalletPublic, signed?: { text: string; signature: Uint8Array }): void {
    const row = (id: string, term: string, value: string) => [h("dt", {}, term), h("dd", { id }, value)];
    replaceChildren(
      this.#details,
      ...row("wallet-ciphersuite", "Ciphersuite", wallet.ciphersuite),
      ...row(
        "wallet-public-key",
        `Public key (${chainPublicKeyFormat(wallet.ciphersuite)}, hex)`,
        toHex(chainPublicKey(wallet)),
      ),
      ...(signed
        ? [
            ...row("wallet-signed-text", "Signed text (UTF-8)", signed.text),
            ...row("wallet-signature", "Signature (hex)", toHex(signed.signature)),
          ]
        : []),
    );
  }
}

/** Disables `button` while `run` runs, so one press is one operation with the card. */
async function busy(button: HTMLButtonElement, run: () => Promise<void>): Promise<void> {
  button.disabled = true;
  try {
    await run();
  } finally {
    button.disabled = false;
  }
}
