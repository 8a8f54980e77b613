import { wipe } from "../bytes.ts";

/** What the phone keeps about one paired card; the identity private key is its secret. */
export interface PairedCard {
  readonly deviceId: string;
  readonly deviceName: string;
  readonly firmwareVersion: string;
  /** The card's identity public key from its QR code (65 bytes). */
  readonly cardIdentityPublicKey: Uint8Array;
  /** The phone identity key pair generated for this card (32-byte private, 65-byte public). */
  readonly phoneIdentityPrivateKey: Uint8Array;
  readonly phoneIdentityPublicKey: Uint8Array;
  readonly userId: string;
  /** ms since the Unix epoch. */
  readonly pairedAt: number;
}

/**
 * The phone's storage port for paired cards (a keychain / keystore on a real phone). `get`
 * returns a copy the caller may wipe; `delete` erases the record, key included.
 */
export interface PairedCardStore {
  get(deviceId: string): Promise<PairedCard | undefined>;
  put(card: PairedCard): Promise<void>;
  delete(deviceId: string): Promise<void>;
}

function copy(card: PairedCard): PairedCard {
  return {
    ...card,
    cardIdentityPublicKey: card.cardIdentityPublicKey.slice(),
    phoneIdentityPrivateKey: card.phoneIdentityPrivateKey.slice(),
    phoneIdentityPublicKey: card.phoneIdentityPublicKey.slice(),
  };
}

/** In-memory {@link PairedCardStore} for tests and for apps that persist elsewhere. */
export class MemoryPairedCardStore implements PairedCardStore {
  readonly #cards = new Map<string, PairedCard>();

  async get(deviceId: string): Promise<PairedCard | undefined> {
    const card = this.#cards.get(deviceId);
    return card && copy(card);
  }

  async put(card: PairedCard): Promise<void> {
    await this.delete(card.deviceId);
    this.#cards.set(card.deviceId, copy(card));
  }

  async delete(deviceId: string): Promise<void> {
    wipe(this.#cards.get(deviceId)?.phoneIdentityPrivateKey);
    this.#cards.delete(deviceId);
  }

  get size(): number {
    return this.#cards.size;
  }
}
