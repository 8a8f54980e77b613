import type { FrostPublic } from "@noble/curves/abstract/frost.js";
import { CardProtocolError } from "../errors.ts";
import { type Ciphersuite, type CiphersuiteName, ciphersuiteByName, identifierOf } from "./ciphersuite.ts";

/** Wallet ids and signing-attempt ids are 16 random bytes chosen by the phone. */
export const MPC_ID_LENGTH = 16;
/** Longest wallet label (UTF-8 bytes); the card shows it. */
export const MPC_MAX_LABEL_BYTES = 64;
/** Longest MESSAGE payload; a DIGEST is exactly 32 bytes. */
export const MPC_MAX_MESSAGE_BYTES = 512;
export const MPC_DIGEST_LENGTH = 32;

/** What everybody may know about a wallet: the FROST public package and how it was made. */
export interface WalletPublic {
  readonly walletId: Uint8Array;
  readonly ciphersuite: CiphersuiteName;
  readonly minSigners: number;
  /** 2 (phone + card) or 3 (phone + card + recovery). */
  readonly maxSigners: number;
  readonly label: string;
  /** The group's public key: what a verifier checks signatures against. */
  readonly groupPublicKey: Uint8Array;
  /** The group's VSS commitment (minSigners points); its first point is the group key. */
  readonly commitment: readonly Uint8Array[];
  /** Verifying share of participants 1..maxSigners, in order. */
  readonly verifyingShares: readonly Uint8Array[];
}

export function copyWalletPublic(wallet: WalletPublic): WalletPublic {
  return {
    ...wallet,
    walletId: wallet.walletId.slice(),
    groupPublicKey: wallet.groupPublicKey.slice(),
    commitment: wallet.commitment.map((c) => c.slice()),
    verifyingShares: wallet.verifyingShares.map((v) => v.slice()),
  };
}

/** The library's public package of a wallet. */
export function frostPublicOf(wallet: WalletPublic): FrostPublic {
  const suite = ciphersuiteByName(wallet.ciphersuite);
  return {
    signers: { min: wallet.minSigners, max: wallet.maxSigners },
    commitments: wallet.commitment.map((c) => c.slice()),
    verifyingShares: Object.fromEntries(
      wallet.verifyingShares.map((share, i) => [identifierOf(suite, i + 1), share.slice()]),
    ),
  };
}

/** Builds a {@link WalletPublic} from a finished DKG's public package. */
export function walletPublicFrom(
  suite: Ciphersuite,
  header: { walletId: Uint8Array; label: string },
  pub: FrostPublic,
): WalletPublic {
  const { min, max } = pub.signers;
  const verifyingShares: Uint8Array[] = [];
  for (let index = 1; index <= max; index++) {
    const share = pub.verifyingShares[identifierOf(suite, index)];
    if (!share)
      throw new CardProtocolError("DKG_FAILED", "mpc", `no verifying share for participant ${index}`);
    verifyingShares.push(share.slice());
  }
  const groupPublicKey = pub.commitments[0];
  if (!groupPublicKey) throw new CardProtocolError("DKG_FAILED", "mpc", "DKG produced no group key");
  return {
    walletId: header.walletId.slice(),
    ciphersuite: suite.name,
    minSigners: min,
    maxSigners: max,
    label: header.label,
    groupPublicKey: groupPublicKey.slice(),
    commitment: pub.commitments.map((c) => c.slice()),
    verifyingShares,
  };
}

/** What to sign: a 32-byte digest, or a short message. The signed bytes are the payload. */
export type SignPayload = { readonly digest: Uint8Array } | { readonly message: Uint8Array };
