import { copyWalletPublic, type WalletPublic, wipe } from "@pairkit/core";

/** A phone the card has paired with (seed 002: "Store mobile identity key"). */
export interface PairedPhone {
  /** The phone's identity public key, SEC1 uncompressed (65 bytes). */
  readonly identityPublicKey: Uint8Array;
  readonly userId: string;
  /** ms since the Unix epoch, card clock. */
  readonly pairedAt: number;
}

/** The card's share of an MPC wallet (docs §4.11), kept for the phone that created it. */
export interface CardWallet {
  readonly wallet: WalletPublic;
  /** Identity public key of the phone that ran the DKG: the only one that signs as participant 1. */
  readonly ownerPhoneKey: Uint8Array;
  /** That phone's bound user: another phone of this user may sign with the recovery share. */
  readonly userId: string;
  /** The card's FROST signing share (participant 2): a secret, like the identity key. */
  readonly signingShare: Uint8Array;
  readonly createdAt: number;
  /** Signatures released on `signDay` (UTC days since the epoch), for the daily limit. */
  readonly signDay: number;
  readonly signsToday: number;
}

/** Everything the card keeps across restarts; the identity private key and wallet shares are secrets. */
export interface CardState {
  readonly deviceId: string;
  readonly identityPrivateKey: Uint8Array;
  readonly pairedPhones: readonly PairedPhone[];
  /** MPC wallets; absent in a state written before MPC existed. */
  readonly wallets?: readonly CardWallet[];
}

/**
 * The card's persistent storage (flash on a real card). `save` replaces the whole state
 * atomically: after a crash either the old or the new state is there, never a mix.
 */
export interface CardStore {
  load(): Promise<CardState | undefined>;
  save(state: CardState): Promise<void>;
}

export function copyCardState(state: CardState): CardState {
  return {
    deviceId: state.deviceId,
    identityPrivateKey: state.identityPrivateKey.slice(),
    pairedPhones: state.pairedPhones.map((p) => ({ ...p, identityPublicKey: p.identityPublicKey.slice() })),
    wallets: (state.wallets ?? []).map((w) => ({
      ...w,
      wallet: copyWalletPublic(w.wallet),
      ownerPhoneKey: w.ownerPhoneKey.slice(),
      signingShare: w.signingShare.slice(),
    })),
  };
}

/** In-memory {@link CardStore}; `saves` counts writes so tests can prove nothing was stored. */
export class MemoryCardStore implements CardStore {
  #state: CardState | undefined;
  saves = 0;

  async load(): Promise<CardState | undefined> {
    return this.#state && copyCardState(this.#state);
  }

  async save(state: CardState): Promise<void> {
    if (this.#state) {
      wipe(this.#state.identityPrivateKey);
      for (const w of this.#state.wallets ?? []) wipe(w.signingShare);
    }
    this.#state = copyCardState(state);
    this.saves++;
  }
}
