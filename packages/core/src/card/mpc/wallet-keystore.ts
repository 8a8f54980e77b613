import { fromHex, toHex, utf8, wipe } from "../../bytes.ts";
import type { SecureElementVault } from "../../owner/software-secure-element.ts";
import type { CiphersuiteName } from "./ciphersuite.ts";
import { MpcError } from "./errors.ts";
import { copyWalletPublic, type WalletPublic } from "./wallet.ts";

/** The phone's share of one wallet, with what it needs to sign. */
export interface WalletShare {
  readonly wallet: WalletPublic;
  /** The card the wallet was created with. */
  readonly deviceId: string;
  /** The FROST participant this share is (1, the phone). */
  readonly participant: number;
  readonly signingShare: Uint8Array;
  /** ms since the Unix epoch. */
  readonly createdAt: number;
}

/**
 * The phone's secure-element port for wallet shares (a keystore-backed store on a real phone).
 * `get` returns a copy the caller wipes; `delete` erases the share.
 */
export interface WalletKeystore {
  get(walletId: Uint8Array): Promise<WalletShare | undefined>;
  put(share: WalletShare): Promise<void>;
  delete(walletId: Uint8Array): Promise<boolean>;
  /** Public data of every wallet held, without the shares. */
  list(): Promise<readonly { wallet: WalletPublic; deviceId: string; createdAt: number }[]>;
}

function copyShare(share: WalletShare): WalletShare {
  return { ...share, wallet: copyWalletPublic(share.wallet), signingShare: share.signingShare.slice() };
}

const STATE_FORMAT = "pairkit-wallet-keystore/v1";

interface StoredShare {
  walletId: string;
  ciphersuite: CiphersuiteName;
  minSigners: number;
  maxSigners: number;
  label: string;
  groupPublicKey: string;
  commitment: string[];
  verifyingShares: string[];
  deviceId: string;
  participant: number;
  signingShare: string;
  createdAt: number;
}

/**
 * A {@link WalletKeystore} in software: in memory, or persisted through a
 * {@link SecureElementVault} (`FileSecureElementVault` encrypts it at rest). Every change is
 * saved before it takes effect, so a failed save leaves the previous shares intact.
 */
export class SoftwareWalletKeystore implements WalletKeystore {
  #shares = new Map<string, WalletShare>();
  #writes: Promise<void> = Promise.resolve();

  private constructor(private readonly vault: SecureElementVault | undefined) {}

  static inMemory(): SoftwareWalletKeystore {
    return new SoftwareWalletKeystore(undefined);
  }

  static async open(vault: SecureElementVault): Promise<SoftwareWalletKeystore> {
    const keystore = new SoftwareWalletKeystore(vault);
    const state = await vault.load();
    if (state) {
      try {
        keystore.#shares = deserialize(state);
      } finally {
        wipe(state);
      }
    }
    return keystore;
  }

  async get(walletId: Uint8Array): Promise<WalletShare | undefined> {
    const share = this.#shares.get(toHex(walletId));
    return share && copyShare(share);
  }

  put(share: WalletShare): Promise<void> {
    return this.#change((shares) => shares.set(toHex(share.wallet.walletId), copyShare(share)));
  }

  async delete(walletId: Uint8Array): Promise<boolean> {
    let found = false;
    await this.#change((shares) => {
      found = shares.delete(toHex(walletId));
    });
    return found;
  }

  async list(): Promise<readonly { wallet: WalletPublic; deviceId: string; createdAt: number }[]> {
    return [...this.#shares.values()].map((s) => ({
      wallet: copyWalletPublic(s.wallet),
      deviceId: s.deviceId,
      createdAt: s.createdAt,
    }));
  }

  // One change at a time, computed on a copy, saved, then adopted.
  #change(apply: (shares: Map<string, WalletShare>) => void): Promise<void> {
    const done = this.#writes.then(async () => {
      const next = new Map(this.#shares);
      apply(next);
      if (this.vault) {
        const bytes = serialize(next);
        try {
          await this.vault.save(bytes);
        } finally {
          wipe(bytes);
        }
      }
      for (const [id, share] of this.#shares) if (next.get(id) !== share) wipe(share.signingShare);
      this.#shares = next;
    });
    this.#writes = done.catch(() => {});
    return done;
  }
}

function serialize(shares: Map<string, WalletShare>): Uint8Array {
  const stored: StoredShare[] = [...shares.values()].map((s) => ({
    walletId: toHex(s.wallet.walletId),
    ciphersuite: s.wallet.ciphersuite,
    minSigners: s.wallet.minSigners,
    maxSigners: s.wallet.maxSigners,
    label: s.wallet.label,
    groupPublicKey: toHex(s.wallet.groupPublicKey),
    commitment: s.wallet.commitment.map(toHex),
    verifyingShares: s.wallet.verifyingShares.map(toHex),
    deviceId: s.deviceId,
    participant: s.participant,
    signingShare: toHex(s.signingShare),
    createdAt: s.createdAt,
  }));
  return utf8(JSON.stringify({ format: STATE_FORMAT, shares: stored }));
}

function deserialize(bytes: Uint8Array): Map<string, WalletShare> {
  let parsed: { format?: unknown; shares?: unknown };
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new MpcError("KEYSTORE_CORRUPT", "wallet keystore is not JSON", { cause });
  }
  if (parsed?.format !== STATE_FORMAT || !Array.isArray(parsed.shares)) {
    throw new MpcError("KEYSTORE_CORRUPT", `wallet keystore is not ${STATE_FORMAT}`);
  }
  const shares = new Map<string, WalletShare>();
  for (const s of parsed.shares as StoredShare[]) {
    try {
      const share: WalletShare = {
        wallet: {
          walletId: fromHex(s.walletId),
          ciphersuite: s.ciphersuite,
          minSigners: s.minSigners,
          maxSigners: s.maxSigners,
          label: s.label,
          groupPublicKey: fromHex(s.groupPublicKey),
          commitment: s.commitment.map(fromHex),
          verifyingShares: s.verifyingShares.map(fromHex),
        },
        deviceId: s.deviceId,
        participant: s.participant,
        signingShare: fromHex(s.signingShare),
        createdAt: s.createdAt,
      };
      shares.set(s.walletId, share);
    } catch (cause) {
      throw new MpcError("KEYSTORE_CORRUPT", "wallet keystore entry is malformed", { cause });
    }
  }
  return shares;
}
