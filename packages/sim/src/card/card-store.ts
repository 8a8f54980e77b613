import { wipe } from "@pairkit/core";

/** A phone the card has paired with (seed 002: "Store mobile identity key"). */
export interface PairedPhone {
  /** The phone's identity public key, SEC1 uncompressed (65 bytes). */
  readonly identityPublicKey: Uint8Array;
  readonly userId: string;
  /** ms since the Unix epoch, card clock. */
  readonly pairedAt: number;
}

/** Everything the card keeps across restarts; the identity private key is its secret. */
export interface CardState {
  readonly deviceId: string;
  readonly identityPrivateKey: Uint8Array;
  readonly pairedPhones: readonly PairedPhone[];
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
    if (this.#state) wipe(this.#state.identityPrivateKey);
    this.#state = copyCardState(state);
    this.saves++;
  }
}
