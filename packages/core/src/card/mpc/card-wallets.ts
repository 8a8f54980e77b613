import type { DKG_Round1, FrostPublic } from "@noble/curves/abstract/frost.js";
import { constantTimeEqual, toHex, wipe } from "../../bytes.ts";
import type { Crypto } from "../../crypto/crypto.ts";
import { type Clock, systemClock } from "../../ports/clock.ts";
import { type CardChannel, decodeBody } from "../channel.ts";
import { CardProtocolError } from "../errors.ts";
import { expectMessage } from "../failures.ts";
import {
  ActiveCardEvent,
  MpcDkgCardRoundSchema,
  MpcDkgFinishSchema,
  MpcDkgResultSchema,
  MpcDkgStartSchema,
  type MpcPayloadKind,
  MpcSignCommitmentSchema,
  MpcSignPackageSchema,
  MpcSignRequestSchema,
  MpcSignShareSchema,
} from "../gen/pairkit/activecard/v1/active_card_pb.ts";
import type { CardSession } from "../phone.ts";
import {
  type Ciphersuite,
  type CiphersuiteName,
  ciphersuiteByName,
  DEFAULT_CIPHERSUITE,
  frostCall,
  identifierOf,
  Participant,
  participantName,
} from "./ciphersuite.ts";
import { MpcError } from "./errors.ts";
import {
  checkRecoveryProtection,
  exportRecovery,
  type RecoveryProtection,
  type RecoveryShare,
} from "./recovery-kit.ts";
import { dkgTranscriptHash } from "./transcript.ts";
import {
  frostPublicOf,
  MPC_ID_LENGTH,
  type SignPayload,
  type WalletPublic,
  walletPublicFrom,
} from "./wallet.ts";
import type { WalletKeystore } from "./wallet-keystore.ts";
import {
  checkLabel,
  checkLength,
  checkSameId,
  checkShareFrom,
  commitmentsFromWire,
  dkgPackageFromWire,
  dkgPackageToWire,
  dkgSharesFromWire,
  payloadToWire,
} from "./wire.ts";

export interface CardWalletsOptions {
  readonly crypto: Crypto;
  /** Where the phone keeps its shares (its secure element). */
  readonly keystore: WalletKeystore;
  readonly clock?: Clock;
}

export interface CreateWalletOptions {
  /** Default "p256" (the seed's curve). */
  readonly ciphersuite?: CiphersuiteName;
  /** Shown by the card; ≤ 64 UTF-8 bytes. */
  readonly label?: string;
  /** Present: a 2-of-3 wallet whose third share is exported sealed this way; absent: 2-of-2. */
  readonly recovery?: RecoveryProtection;
}

export interface CreatedWallet {
  readonly wallet: WalletPublic;
  /** The sealed recovery share (2-of-3 only). The phone keeps no copy: store it offline. */
  readonly recoveryKit?: Uint8Array;
}

/**
 * The MPC wallets of one paired-card session (docs §4.11): the phone and the card jointly hold
 * a FROST signing key that neither holds alone. The phone is the FROST coordinator: it runs
 * the DKG with the card, asks the card to co-sign, and verifies every share and the final
 * signature before returning it. Nonces live only in memory for one signing attempt.
 */
export class CardWallets {
  readonly #session: CardSession;
  readonly #crypto: Crypto;
  readonly #keystore: WalletKeystore;
  readonly #clock: Clock;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(session: CardSession, options: CardWalletsOptions) {
    this.#session = session;
    this.#crypto = options.crypto;
    this.#keystore = options.keystore;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Distributed key generation with the card (docs §4.11.3). 2-of-2 without `recovery`;
   * 2-of-3 with it: the phone runs the recovery participant too, seals its share into the
   * returned kit and wipes it. The card keeps its share only after both sides proved the same
   * transcript; the phone stores its share after the card has confirmed.
   */
  async createWallet(options: CreateWalletOptions = {}): Promise<CreatedWallet> {
    const suite = checkOption(() => ciphersuiteByName(options.ciphersuite ?? DEFAULT_CIPHERSUITE));
    const label = checkOption(() => checkLabel(options.label ?? ""));
    const { recovery } = options;
    if (recovery) checkRecoveryProtection(recovery);
    return this.#exchange((channel) => this.#createWallet(channel, suite, label, recovery));
  }

  async #createWallet(
    channel: CardChannel,
    suite: Ciphersuite,
    label: string,
    recovery: RecoveryProtection | undefined,
  ): Promise<CreatedWallet> {
    const maxSigners = recovery ? 3 : 2;
    const signers = { min: 2, max: maxSigners };
    const walletId = this.#crypto.randomBytes(MPC_ID_LENGTH);
    const identities = await this.#session.identityPublicKeys();
    const ids = {
      phone: identifierOf(suite, Participant.phone),
      card: identifierOf(suite, Participant.card),
    };

    // The phone's participants: itself, and the recovery participant of a 2-of-3 wallet.
    const mine = [Participant.phone, ...(recovery ? [Participant.recovery] : [])].map((index) => ({
      index,
      id: identifierOf(suite, index),
      round1: suite.frost.DKG.round1(identifierOf(suite, index), signers),
    }));
    // Every secret scalar this DKG produces, wiped however it ends.
    const secrets: Uint8Array[] = [];
    try {
      const ownPackages = mine.map((p) => dkgPackageToWire(p.index, p.round1.public));
      await channel.send(ActiveCardEvent.MPC_DKG_START, MpcDkgStartSchema, {
        walletId,
        ciphersuite: suite.id,
        minSigners: 2,
        maxSigners,
        packages: ownPackages,
        label,
      });
      const reply = decodeBody(
        MpcDkgCardRoundSchema,
        await expectMessage(channel, "mpc", ActiveCardEvent.MPC_DKG_CARD_ROUND),
        "mpc",
      );
      checkSameId(reply.walletId, walletId, "wallet_id");
      const cardPackage = dkgPackageFromWire(suite, reply.package, Participant.card, 2);
      const cardShares = dkgSharesFromWire(
        suite,
        reply.shares,
        mine.map((p) => [Participant.card, p.index] as const),
      );
      for (const [i, p] of mine.entries()) {
        checkShareFrom(suite, Participant.card, cardPackage, p.index, cardShares[i]!, signers);
      }

      // Round 2 of each of the phone's participants, then round 3 (the library re-checks all).
      const round1Of = (index: number): DKG_Round1 =>
        index === Participant.card ? cardPackage : mine.find((p) => p.index === index)!.round1.public;
      const everyone = [Participant.phone, Participant.card, ...(recovery ? [Participant.recovery] : [])];
      const round2 = mine.map((p) =>
        frostCall("INVALID_DKG_PACKAGE", `DKG package of ${participantName(Participant.card)}`, () =>
          suite.frost.DKG.round2(p.round1.secret, everyone.filter((i) => i !== p.index).map(round1Of)),
        ),
      );
      for (const shares of round2) secrets.push(...Object.values(shares).map((s) => s.signingShare));
      const keys = mine.map((p, i) =>
        frostCall("DKG_FAILED", `DKG round 3 of ${participantName(p.index)}`, () =>
          suite.frost.DKG.round3(
            p.round1.secret,
            everyone.filter((j) => j !== p.index).map(round1Of),
            everyone
              .filter((j) => j !== p.index)
              .map((j) => {
                if (j === Participant.card) return { identifier: ids.card, signingShare: cardShares[i]! };
                const from = mine.findIndex((m) => m.index === j);
                return {
                  identifier: identifierOf(suite, j),
                  signingShare: round2[from]![p.id]!.signingShare,
                };
              }),
          ),
        ),
      );
      secrets.push(...keys.map((key) => key.secret.signingShare));
      const phoneKey = keys[0]!;
      const wallet = walletPublicFrom(suite, { walletId, label }, phoneKey.public);
      const transcriptHash = dkgTranscriptHash(this.#crypto, {
        sessionId: channel.sessionId,
        phoneIdentityPublicKey: identities.phone,
        cardIdentityPublicKey: identities.card,
        walletId,
        suite,
        minSigners: 2,
        maxSigners,
        label,
        packages: everyone.map((i) => dkgPackageToWire(i, round1Of(i))),
        groupPublicKey: wallet.groupPublicKey,
      });
      await channel.send(ActiveCardEvent.MPC_DKG_FINISH, MpcDkgFinishSchema, {
        walletId,
        shares: mine.map((p, i) => ({
          sender: p.index,
          receiver: Participant.card,
          signingShare: round2[i]![ids.card]!.signingShare,
        })),
        transcriptHash,
      });
      const result = decodeBody(
        MpcDkgResultSchema,
        await expectMessage(channel, "mpc", ActiveCardEvent.MPC_DKG_RESULT),
        "mpc",
      );
      checkSameId(result.walletId, walletId, "wallet_id");
      if (
        !constantTimeEqual(result.groupPublicKey, wallet.groupPublicKey) ||
        !constantTimeEqual(result.transcriptHash, transcriptHash)
      ) {
        throw new CardProtocolError("TRANSCRIPT_MISMATCH", "mpc", "the card finished a different DKG");
      }

      let recoveryKit: Uint8Array | undefined;
      if (recovery) {
        recoveryKit = await exportRecovery(
          this.#crypto,
          { wallet, signingShare: keys[1]!.secret.signingShare },
          recovery,
        );
      }
      await this.#keystore.put({
        wallet,
        deviceId: this.#session.deviceId,
        participant: Participant.phone,
        signingShare: phoneKey.secret.signingShare,
        createdAt: this.#clock.now(),
      });
      return recoveryKit ? { wallet, recoveryKit } : { wallet };
    } finally {
      for (const p of mine) suite.frost.DKG.clean(p.round1.secret);
      wipe(...secrets);
    }
  }

  /**
   * Co-signs `payload` with the card using the phone's share of `walletId` (docs §4.11.4) and
   * returns the verified signature (the ciphersuite's Schnorr signature, R ‖ z).
   */
  async sign(walletId: Uint8Array, payload: SignPayload): Promise<Uint8Array> {
    const share = await this.#keystore.get(walletId);
    if (!share) throw new MpcError("UNKNOWN_WALLET", `no share of wallet ${toHex(walletId)} on this phone`);
    try {
      if (share.deviceId !== this.#session.deviceId) {
        throw new MpcError("WRONG_CARD", `wallet ${toHex(walletId)} belongs to card ${share.deviceId}`);
      }
      return await this.#coSign(share.wallet, share.participant, share.signingShare, payload);
    } finally {
      wipe(share.signingShare);
    }
  }

  /**
   * Lost phone: co-signs with the card using the recovery share of a 2-of-3 wallet, from a
   * phone paired with the card for the wallet's user (docs §4.11.5). Then create a fresh
   * wallet and move to it.
   */
  recover(share: RecoveryShare, payload: SignPayload): Promise<Uint8Array> {
    return this.#coSign(share.wallet, Participant.recovery, share.signingShare, payload);
  }

  #coSign(
    wallet: WalletPublic,
    participant: number,
    signingShare: Uint8Array,
    payload: SignPayload,
  ): Promise<Uint8Array> {
    const wire = checkOption(() => payloadToWire(payload));
    return this.#exchange((channel) => this.#signRounds(channel, wallet, participant, signingShare, wire));
  }

  /**
   * Runs one exchange on the session: one at a time (two would interleave their messages), and
   * any failure ends the session, as it does on the card (§4.8).
   */
  #exchange<T>(run: (channel: CardChannel) => Promise<T>): Promise<T> {
    const result = this.#queue.then(async () => {
      try {
        return await run(this.#session.liveChannel());
      } catch (error) {
        this.#session.destroy();
        throw error;
      }
    });
    this.#queue = result.catch(() => {});
    return result;
  }

  async #signRounds(
    channel: CardChannel,
    wallet: WalletPublic,
    participant: number,
    signingShare: Uint8Array,
    wire: { kind: MpcPayloadKind; payload: Uint8Array },
  ): Promise<Uint8Array> {
    const suite = ciphersuiteByName(wallet.ciphersuite);
    const signId = this.#crypto.randomBytes(MPC_ID_LENGTH);
    await channel.send(ActiveCardEvent.MPC_SIGN_REQUEST, MpcSignRequestSchema, {
      walletId: wallet.walletId,
      signId,
      participant,
      kind: wire.kind,
      payload: wire.payload,
    });
    const cardCommitment = decodeBody(
      MpcSignCommitmentSchema,
      await expectMessage(channel, "mpc", ActiveCardEvent.MPC_SIGN_COMMITMENT),
      "mpc",
    );
    checkSameId(cardCommitment.signId, signId, "sign_id");
    const secret = { identifier: identifierOf(suite, participant), signingShare };
    // Fresh nonces for this attempt only, never stored; signShare zeroes them.
    const own = suite.frost.commit(secret);
    try {
      const commitments = [
        own.commitments,
        commitmentsFromWire(suite, Participant.card, cardCommitment.hiding, cardCommitment.binding),
      ];
      await channel.send(ActiveCardEvent.MPC_SIGN_PACKAGE, MpcSignPackageSchema, {
        signId,
        participant,
        hiding: own.commitments.hiding,
        binding: own.commitments.binding,
      });
      const reply = decodeBody(
        MpcSignShareSchema,
        await expectMessage(channel, "mpc", ActiveCardEvent.MPC_SIGN_SHARE),
        "mpc",
      );
      checkSameId(reply.signId, signId, "sign_id");
      const cardShare = checkLength(reply.signatureShare, suite.scalarLength, "signature share");
      return aggregateVerified(
        suite,
        frostPublicOf(wallet),
        commitments,
        wire.payload,
        {
          [identifierOf(suite, Participant.card)]: cardShare,
          // Our own share can only fail on a bad commitment, and only the card's came from outside.
          [secret.identifier]: frostCall(
            "INVALID_COMMITMENT",
            `commitments of ${participantName(Participant.card)}`,
            () => suite.frost.signShare(secret, frostPublicOf(wallet), own.nonces, commitments, wire.payload),
          ),
        },
        wallet.groupPublicKey,
      );
    } finally {
      wipe(own.nonces.hiding, own.nonces.binding);
    }
  }
}

/**
 * Lost card: signs `payload` on the phone alone with its own share and the recovery share of
 * a 2-of-3 wallet (both FROST participants run here; docs §4.11.5). No card is involved.
 */
export async function signWithoutCard(
  keystore: WalletKeystore,
  recovery: RecoveryShare,
  payload: SignPayload,
): Promise<Uint8Array> {
  const share = await keystore.get(recovery.wallet.walletId);
  if (!share) throw new MpcError("UNKNOWN_WALLET", "no phone share of the recovery kit's wallet");
  try {
    if (!constantTimeEqual(share.wallet.groupPublicKey, recovery.wallet.groupPublicKey)) {
      throw new MpcError("RECOVERY_KIT_MALFORMED", "the kit's group key is not the stored wallet's");
    }
    const suite = ciphersuiteByName(recovery.wallet.ciphersuite);
    const wire = checkOption(() => payloadToWire(payload));
    const pub = frostPublicOf(share.wallet);
    const signers = [
      { identifier: identifierOf(suite, share.participant), signingShare: share.signingShare },
      { identifier: identifierOf(suite, Participant.recovery), signingShare: recovery.signingShare },
    ];
    const rounds = signers.map((s) => suite.frost.commit(s));
    const commitments = rounds.map((r) => r.commitments);
    const shares = Object.fromEntries(
      signers.map((s, i) => [
        s.identifier,
        frostCall("SIGNING_FAILED", "signature share", () =>
          suite.frost.signShare(s, pub, rounds[i]!.nonces, commitments, wire.payload),
        ),
      ]),
    );
    return aggregateVerified(suite, pub, commitments, wire.payload, shares, share.wallet.groupPublicKey);
  } finally {
    wipe(share.signingShare);
  }
}

/** A caller's option that fails a wire check is the caller's mistake: BAD_OPTIONS. */
function checkOption<T>(check: () => T): T {
  try {
    return check();
  } catch (cause) {
    if (!(cause instanceof CardProtocolError)) throw cause;
    throw new MpcError("BAD_OPTIONS", cause.message, { cause });
  }
}

/**
 * Checks every share with verifyShare (naming the culprit), aggregates, and verifies the
 * signature under the group key: a bad signature never leaves this function.
 */
function aggregateVerified(
  suite: Ciphersuite,
  pub: FrostPublic,
  commitments: Parameters<Ciphersuite["frost"]["aggregate"]>[1],
  message: Uint8Array,
  shares: Record<string, Uint8Array>,
  groupPublicKey: Uint8Array,
): Uint8Array {
  for (const [identifier, share] of Object.entries(shares)) {
    const valid = frostCall("INVALID_SHARE", "signature share", () =>
      suite.frost.verifyShare(pub, commitments, message, identifier, share),
    );
    if (!valid) {
      const index = [1, 2, 3].find((i) => identifierOf(suite, i) === identifier) ?? 0;
      throw new CardProtocolError(
        "INVALID_SHARE",
        "mpc",
        `signature share of ${participantName(index)} fails verifyShare`,
      );
    }
  }
  const signature = frostCall("SIGNING_FAILED", "aggregate", () =>
    suite.frost.aggregate(pub, commitments, message, shares),
  );
  if (!suite.frost.verify(signature, message, groupPublicKey)) {
    throw new CardProtocolError("SIGNING_FAILED", "mpc", "aggregated signature does not verify");
  }
  return signature;
}
