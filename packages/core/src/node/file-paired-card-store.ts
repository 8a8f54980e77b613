import { fromHex, toHex, utf8, wipe } from "../bytes.ts";
import type { PairedCard, PairedCardStore } from "../card/paired-card-store.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { PairkitError } from "../errors.ts";
import { FileSecureElementVault, type FileVaultSecret } from "./file-secure-element.ts";

interface StoredCard {
  deviceId: string;
  deviceName: string;
  firmwareVersion: string;
  cardIdentityPublicKey: string;
  phoneIdentityPrivateKey: string;
  phoneIdentityPublicKey: string;
  userId: string;
  pairedAt: number;
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The phone's paired cards in one file, encrypted at rest exactly like the file secure element
 * (same vault: AES-256-GCM under a passphrase or key file, atomic replace): the phone identity
 * private keys are in it. For the CLI and tests; a real phone keeps them in its keychain.
 */
export class FilePairedCardStore implements PairedCardStore {
  readonly #vault: FileSecureElementVault;
  #writes: Promise<void> = Promise.resolve();

  constructor(options: { path: string; crypto: Crypto; secret: FileVaultSecret }) {
    this.#vault = new FileSecureElementVault(options.path, options.crypto, options.secret);
  }

  async get(deviceId: string): Promise<PairedCard | undefined> {
    await this.#writes;
    const cards = await this.#load();
    const found = cards.find((c) => c.deviceId === deviceId);
    for (const card of cards) if (card !== found) wipe(card.phoneIdentityPrivateKey);
    return found;
  }

  put(card: PairedCard): Promise<void> {
    return this.#change((cards) => [...cards.filter((c) => c.deviceId !== card.deviceId), card]);
  }

  delete(deviceId: string): Promise<void> {
    return this.#change((cards) => cards.filter((c) => c.deviceId !== deviceId));
  }

  /** Forgets the file key held in memory. */
  destroy(): void {
    this.#vault.destroy();
  }

  /** One change at a time, each on the state the previous one saved. */
  #change(change: (cards: PairedCard[]) => PairedCard[]): Promise<void> {
    const done = this.#writes.then(async () => {
      const cards = await this.#load();
      const next = change(cards);
      const text = utf8(JSON.stringify({ version: 1, cards: next.map(toStored) }));
      try {
        await this.#vault.save(text);
      } finally {
        wipe(text);
        for (const card of cards) wipe(card.phoneIdentityPrivateKey);
      }
    });
    this.#writes = done.catch(() => {});
    return done;
  }

  async #load(): Promise<PairedCard[]> {
    const bytes = await this.#vault.load();
    if (!bytes) return [];
    try {
      const stored = JSON.parse(STRICT_UTF8.decode(bytes)) as { version?: unknown; cards?: unknown };
      if (stored.version !== 1 || !Array.isArray(stored.cards)) throw new Error("not version 1");
      return stored.cards.map(fromStored);
    } catch (cause) {
      throw new PairkitError("CARD_STORE_CORRUPT", "paired card file holds no version 1 card list", {
        cause,
      });
    } finally {
      wipe(bytes);
    }
  }
}

function toStored(card: PairedCard): StoredCard {
  return {
    deviceId: card.deviceId,
    deviceName: card.deviceName,
    firmwareVersion: card.firmwareVersion,
    cardIdentityPublicKey: toHex(card.cardIdentityPublicKey),
    phoneIdentityPrivateKey: toHex(card.phoneIdentityPrivateKey),
    phoneIdentityPublicKey: toHex(card.phoneIdentityPublicKey),
    userId: card.userId,
    pairedAt: card.pairedAt,
  };
}

function fromStored(value: unknown): PairedCard {
  const s = value as StoredCard;
  const text = [s?.deviceId, s?.deviceName, s?.firmwareVersion, s?.userId];
  if (text.some((t) => typeof t !== "string") || !Number.isSafeInteger(s.pairedAt)) {
    throw new Error("bad card entry");
  }
  const hex = (v: unknown, length: number) => {
    if (typeof v !== "string" || v.length !== 2 * length) throw new Error("bad key length");
    return fromHex(v);
  };
  return {
    deviceId: s.deviceId,
    deviceName: s.deviceName,
    firmwareVersion: s.firmwareVersion,
    cardIdentityPublicKey: hex(s.cardIdentityPublicKey, 65),
    phoneIdentityPrivateKey: hex(s.phoneIdentityPrivateKey, 32),
    phoneIdentityPublicKey: hex(s.phoneIdentityPublicKey, 65),
    userId: s.userId,
    pairedAt: s.pairedAt,
  };
}
