import {
  type Ciphersuite,
  type CiphersuiteName,
  ciphersuiteByName,
  fromHex,
  MPC_ID_LENGTH,
  PairkitError,
  toHex,
} from "@pairkit/core";
import { readFileIfExists, writePrivateFileAtomically } from "@pairkit/core/node";
import type { CardState, CardStore, CardWallet, PairedPhone } from "./card-store.ts";

interface StoredCardState {
  version: 1;
  deviceId: string;
  identityPrivateKey: string;
  pairedPhones: { identityPublicKey: string; userId: string; pairedAt: number }[];
  /** MPC wallets (docs §4.11); absent in files written before MPC. */
  wallets?: StoredWallet[];
}

interface StoredWallet {
  walletId: string;
  ciphersuite: string;
  minSigners: number;
  maxSigners: number;
  label: string;
  groupPublicKey: string;
  commitment: string[];
  verifyingShares: string[];
  ownerPhoneKey: string;
  userId: string;
  signingShare: string;
  createdAt: number;
  signDay: number;
  signsToday: number;
}

/**
 * {@link CardStore} in a JSON file (the simulator's "flash"), replaced atomically with mode 0600
 * (writePrivateFileAtomically), so a crash never leaves half a state.
 */
export class JsonFileCardStore implements CardStore {
  constructor(readonly path: string) {}

  async load(): Promise<CardState | undefined> {
    const text = await readFileIfExists(this.path);
    return text === undefined ? undefined : parseStoredState(text, this.path);
  }

  async save(state: CardState): Promise<void> {
    const stored: StoredCardState = {
      version: 1,
      deviceId: state.deviceId,
      identityPrivateKey: toHex(state.identityPrivateKey),
      pairedPhones: state.pairedPhones.map((p) => ({
        identityPublicKey: toHex(p.identityPublicKey),
        userId: p.userId,
        pairedAt: p.pairedAt,
      })),
      wallets: (state.wallets ?? []).map((w) => ({
        walletId: toHex(w.wallet.walletId),
        ciphersuite: w.wallet.ciphersuite,
        minSigners: w.wallet.minSigners,
        maxSigners: w.wallet.maxSigners,
        label: w.wallet.label,
        groupPublicKey: toHex(w.wallet.groupPublicKey),
        commitment: w.wallet.commitment.map(toHex),
        verifyingShares: w.wallet.verifyingShares.map(toHex),
        ownerPhoneKey: toHex(w.ownerPhoneKey),
        userId: w.userId,
        signingShare: toHex(w.signingShare),
        createdAt: w.createdAt,
        signDay: w.signDay,
        signsToday: w.signsToday,
      })),
    };
    await writePrivateFileAtomically(this.path, `${JSON.stringify(stored, null, 2)}\n`);
  }
}

function parseStoredState(text: string, path: string): CardState {
  const corrupt = (why: string) => new PairkitError("CARD_STATE_CORRUPT", `${path}: ${why}`);
  let stored: StoredCardState;
  try {
    stored = JSON.parse(text) as StoredCardState;
  } catch (cause) {
    throw new PairkitError("CARD_STATE_CORRUPT", `${path}: not JSON`, { cause });
  }
  if (stored?.version !== 1 || typeof stored.deviceId !== "string" || !Array.isArray(stored.pairedPhones)) {
    throw corrupt("not a version 1 card state");
  }
  const hex = (value: unknown, length: number, what: string) => {
    if (typeof value !== "string" || value.length !== 2 * length)
      throw corrupt(`${what} is not ${length} bytes`);
    return fromHex(value);
  };
  const pairedPhones: PairedPhone[] = stored.pairedPhones.map((p) => {
    if (typeof p?.userId !== "string" || !Number.isSafeInteger(p.pairedAt)) throw corrupt("bad paired phone");
    return {
      identityPublicKey: hex(p.identityPublicKey, 65, "phone key"),
      userId: p.userId,
      pairedAt: p.pairedAt,
    };
  });
  const wallets: CardWallet[] = (stored.wallets ?? []).map((w) => {
    let suite: Ciphersuite;
    try {
      suite = ciphersuiteByName(w?.ciphersuite as CiphersuiteName);
    } catch (cause) {
      throw new PairkitError("CARD_STATE_CORRUPT", `${path}: bad wallet ciphersuite`, { cause });
    }
    const counts = [w.minSigners, w.maxSigners, w.createdAt, w.signDay, w.signsToday];
    if (
      typeof w.label !== "string" ||
      typeof w.userId !== "string" ||
      !counts.every(Number.isSafeInteger) ||
      !Array.isArray(w.commitment) ||
      !Array.isArray(w.verifyingShares) ||
      w.verifyingShares.length !== w.maxSigners
    ) {
      throw corrupt("bad wallet");
    }
    const point = (value: unknown) => hex(value, suite.pointLength, "wallet point");
    return {
      wallet: {
        walletId: hex(w.walletId, MPC_ID_LENGTH, "wallet id"),
        ciphersuite: suite.name,
        minSigners: w.minSigners,
        maxSigners: w.maxSigners,
        label: w.label,
        groupPublicKey: point(w.groupPublicKey),
        commitment: w.commitment.map(point),
        verifyingShares: w.verifyingShares.map(point),
      },
      ownerPhoneKey: hex(w.ownerPhoneKey, 65, "wallet owner key"),
      userId: w.userId,
      signingShare: hex(w.signingShare, suite.scalarLength, "wallet share"),
      createdAt: w.createdAt,
      signDay: w.signDay,
      signsToday: w.signsToday,
    };
  });
  return {
    deviceId: stored.deviceId,
    identityPrivateKey: hex(stored.identityPrivateKey, 32, "identity key"),
    pairedPhones,
    wallets,
  };
}
