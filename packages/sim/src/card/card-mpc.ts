import {
  ActiveCardEvent,
  type CardChannel,
  type CardMessage,
  CardProtocolError,
  type Clock,
  type Crypto,
  checkLabel,
  checkLength,
  checkMpcId,
  checkPayload,
  checkSameId,
  checkShareFrom,
  ciphersuiteById,
  ciphersuiteByName,
  commitmentsFromWire,
  constantTimeEqual,
  decodeBody,
  dkgPackageFromWire,
  dkgPackageToWire,
  dkgSharesFromWire,
  dkgTranscriptHash,
  expectMessage,
  frostCall,
  frostPublicOf,
  identifierOf,
  MpcDkgCardRoundSchema,
  MpcDkgFinishSchema,
  MpcDkgResultSchema,
  MpcDkgStartSchema,
  MpcPayloadKind,
  MpcSignCommitmentSchema,
  MpcSignPackageSchema,
  MpcSignRequestSchema,
  MpcSignShareSchema,
  Participant,
  participantName,
  toHex,
  type WalletPublic,
  walletPublicFrom,
  wipe,
} from "@pairkit/core";
import type { CardState, CardWallet } from "./card-store.ts";

/** What the card shows before it co-signs, and what a policy decides on. */
export interface SignRequestView {
  readonly wallet: WalletPublic;
  /** 1: the owner phone; 3: a phone of the same user holding the recovery share. */
  readonly participant: number;
  readonly kind: "digest" | "message";
  readonly payload: Uint8Array;
}

export interface CardMpcPolicy {
  /** Most signatures per wallet per UTC day (default unlimited). */
  readonly dailySignLimit?: number;
  /** Return false to refuse a request (POLICY_REFUSED). */
  readonly approve?: (request: SignRequestView) => boolean;
}

export interface CardMpcContext {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly identityPublicKey: Uint8Array;
  readonly policy: CardMpcPolicy;
  /** The card's display: what it is asked to sign and what it signed. */
  readonly log: (line: string) => void;
  readonly state: () => CardState;
  /** The card's one way to change its flash (saved before adopted, one change at a time). */
  readonly update: (change: (state: CardState) => CardState) => Promise<void>;
}

const DAY_MS = 86_400_000;
/** Wallets one card holds at most (flash is small). */
const MAX_WALLETS = 16;
/** How many recent phone commitments the card remembers to refuse their reuse. */
const REMEMBERED_COMMITMENTS = 1024;

/**
 * The card's side of MPC (docs §4.11): DKG and co-signing inside an established session.
 * Nonces are never persisted: they live in this call's memory and are zeroed when it ends, so
 * a crash or a dropped session between the two signing rounds can only lose them, never reuse
 * them. A signature is counted in flash before its share is released. Any failure throws a
 * CardProtocolError of phase "mpc" (the card answers MPC_REFUSED and ends the session) and
 * leaves the flash as it was.
 */
export class CardMpc {
  readonly #context: CardMpcContext;
  readonly #seenCommitments = new Set<string>();

  constructor(context: CardMpcContext) {
    this.#context = context;
  }

  /** Serves one MPC exchange that `message` opens. */
  async handle(channel: CardChannel, message: CardMessage, phoneKey: Uint8Array): Promise<void> {
    switch (message.type) {
      case ActiveCardEvent.MPC_DKG_START:
        return this.#createWallet(channel, message, phoneKey);
      case ActiveCardEvent.MPC_SIGN_REQUEST:
        return this.#sign(channel, message, phoneKey);
      default:
        // A second round without its first (replayed, reordered, or after a restart).
        throw new CardProtocolError(
          "ROUND_OUT_OF_ORDER",
          "mpc",
          `${ActiveCardEvent[message.type]} outside its exchange`,
        );
    }
  }

  async #createWallet(channel: CardChannel, message: CardMessage, phoneKey: Uint8Array): Promise<void> {
    const { crypto } = this.#context;
    const start = decodeBody(MpcDkgStartSchema, message, "mpc");
    const userId = this.#pairedUser(phoneKey);
    const walletId = checkMpcId(start.walletId, "wallet_id").slice();
    this.#checkRoomFor(this.#context.state(), walletId);
    const suite = ciphersuiteById(start.ciphersuite);
    const label = checkLabel(start.label);
    if (start.minSigners !== 2 || (start.maxSigners !== 2 && start.maxSigners !== 3)) {
      throw new CardProtocolError(
        "MALFORMED_MESSAGE",
        "mpc",
        `unsupported threshold ${start.minSigners}-of-${start.maxSigners}`,
      );
    }
    const signers = { min: 2, max: start.maxSigners };
    const phoneSide =
      start.maxSigners === 3 ? [Participant.phone, Participant.recovery] : [Participant.phone];
    if (start.packages.length !== phoneSide.length) {
      throw new CardProtocolError("MALFORMED_MESSAGE", "mpc", `expected ${phoneSide.length} DKG packages`);
    }
    const phonePackages = phoneSide.map((index, i) => dkgPackageFromWire(suite, start.packages[i], index, 2));
    const own = suite.frost.DKG.round1(identifierOf(suite, Participant.card), signers);
    // The shares sent to the phone: secrets, wiped however the DKG ends.
    const sent: Uint8Array[] = [];
    try {
      const round2 = frostCall("INVALID_DKG_PACKAGE", "DKG package from the phone", () =>
        suite.frost.DKG.round2(own.secret, phonePackages),
      );
      sent.push(...Object.values(round2).map((share) => share.signingShare));
      await channel.send(ActiveCardEvent.MPC_DKG_CARD_ROUND, MpcDkgCardRoundSchema, {
        walletId,
        package: dkgPackageToWire(Participant.card, own.public),
        shares: phoneSide.map((index) => ({
          sender: Participant.card,
          receiver: index,
          signingShare: round2[identifierOf(suite, index)]!.signingShare,
        })),
      });

      const finish = decodeBody(
        MpcDkgFinishSchema,
        await expectMessage(channel, "mpc", ActiveCardEvent.MPC_DKG_FINISH),
        "mpc",
      );
      checkSameId(finish.walletId, walletId, "wallet_id");
      const shares = dkgSharesFromWire(
        suite,
        finish.shares,
        phoneSide.map((index) => [index, Participant.card] as const),
      );
      phoneSide.forEach((index, i) => {
        checkShareFrom(suite, index, phonePackages[i]!, Participant.card, shares[i]!, signers);
      });
      const key = frostCall("DKG_FAILED", "DKG round 3", () =>
        suite.frost.DKG.round3(
          own.secret,
          phonePackages,
          phoneSide.map((index, i) => ({ identifier: identifierOf(suite, index), signingShare: shares[i]! })),
        ),
      );
      const wallet = walletPublicFrom(suite, { walletId, label }, key.public);
      const packages = [phonePackages[0]!, own.public, ...phonePackages.slice(1)];
      const transcriptHash = dkgTranscriptHash(crypto, {
        sessionId: channel.sessionId,
        phoneIdentityPublicKey: phoneKey,
        cardIdentityPublicKey: this.#context.identityPublicKey,
        walletId,
        suite,
        minSigners: 2,
        maxSigners: start.maxSigners,
        label,
        packages: packages.map((p, i) => dkgPackageToWire(i + 1, p)),
        groupPublicKey: wallet.groupPublicKey,
      });
      if (!constantTimeEqual(checkLength(finish.transcriptHash, 32, "transcript_hash"), transcriptHash)) {
        throw new CardProtocolError("TRANSCRIPT_MISMATCH", "mpc", "the phone finished a different DKG");
      }
      const record: CardWallet = {
        wallet,
        ownerPhoneKey: phoneKey.slice(),
        userId,
        signingShare: key.secret.signingShare,
        createdAt: this.#context.clock.now(),
        signDay: 0,
        signsToday: 0,
      };
      await this.#context.update((state) => {
        this.#checkRoomFor(state, walletId);
        return { ...state, wallets: [...(state.wallets ?? []), record] };
      });
      this.#context.log(
        `MPC wallet ${toHex(walletId)} ${JSON.stringify(label)} created: ${suite.name} 2-of-${start.maxSigners}, ` +
          `group key ${toHex(wallet.groupPublicKey)}`,
      );
      await channel.send(ActiveCardEvent.MPC_DKG_RESULT, MpcDkgResultSchema, {
        walletId,
        groupPublicKey: wallet.groupPublicKey,
        transcriptHash,
      });
    } finally {
      suite.frost.DKG.clean(own.secret);
      wipe(...sent);
    }
  }

  async #sign(channel: CardChannel, message: CardMessage, phoneKey: Uint8Array): Promise<void> {
    const request = decodeBody(MpcSignRequestSchema, message, "mpc");
    const userId = this.#pairedUser(phoneKey);
    const walletId = checkMpcId(request.walletId, "wallet_id");
    const signId = checkMpcId(request.signId, "sign_id").slice();
    checkPayload(request.kind, request.payload);
    const record = this.#wallet(walletId);
    const suite = ciphersuiteByName(record.wallet.ciphersuite);
    this.#authorize(record, request.participant, phoneKey, userId);
    const view: SignRequestView = {
      wallet: record.wallet,
      participant: request.participant,
      kind: request.kind === MpcPayloadKind.DIGEST ? "digest" : "message",
      payload: request.payload,
    };
    this.#context.log(`sign request: ${describe(view)}`);
    if (this.#context.policy.approve && !this.#context.policy.approve(view)) {
      throw new CardProtocolError("POLICY_REFUSED", "mpc", "the card's policy refused this request");
    }
    this.#checkLimit(record);

    const secret = {
      identifier: identifierOf(suite, Participant.card),
      signingShare: record.signingShare.slice(),
    };
    const own = suite.frost.commit(secret);
    try {
      await channel.send(ActiveCardEvent.MPC_SIGN_COMMITMENT, MpcSignCommitmentSchema, {
        signId,
        hiding: own.commitments.hiding,
        binding: own.commitments.binding,
      });
      const signing = decodeBody(
        MpcSignPackageSchema,
        await expectMessage(channel, "mpc", ActiveCardEvent.MPC_SIGN_PACKAGE),
        "mpc",
      );
      checkSameId(signing.signId, signId, "sign_id");
      if (signing.participant !== request.participant) {
        throw new CardProtocolError(
          "WRONG_PARTICIPANT",
          "mpc",
          `commitments of ${participantName(signing.participant)}, expected ${participantName(request.participant)}`,
        );
      }
      const phoneCommitments = commitmentsFromWire(
        suite,
        request.participant,
        signing.hiding,
        signing.binding,
      );
      this.#rememberCommitments(phoneCommitments.hiding, phoneCommitments.binding);
      // Counted in flash before the share leaves: a crash after this loses a signature from
      // the day's budget, never grants an extra one.
      await this.#context.update((state) => {
        const wallets = state.wallets ?? [];
        // Re-read: a forget on another link may have erased the wallet since step 1.
        if (!wallets.some((w) => constantTimeEqual(w.wallet.walletId, walletId))) {
          throw new CardProtocolError("UNKNOWN_WALLET", "mpc", "the wallet was erased");
        }
        return {
          ...state,
          wallets: wallets.map((w) =>
            constantTimeEqual(w.wallet.walletId, walletId) ? this.#counted(w) : w,
          ),
        };
      });
      // The card's own values are sound, so a failure here is the phone's commitment.
      const share = frostCall(
        "INVALID_COMMITMENT",
        `commitments of ${participantName(request.participant)}`,
        () =>
          suite.frost.signShare(
            secret,
            frostPublicOf(record.wallet),
            own.nonces,
            [phoneCommitments, own.commitments],
            request.payload,
          ),
      );
      await channel.send(ActiveCardEvent.MPC_SIGN_SHARE, MpcSignShareSchema, {
        signId,
        signatureShare: share,
      });
      this.#context.log(`signed: ${describe(view)}`);
    } finally {
      wipe(own.nonces.hiding, own.nonces.binding, secret.signingShare);
    }
  }

  /** The user bound to this phone; an unpaired phone has no wallets (NOT_PAIRED). */
  #pairedUser(phoneKey: Uint8Array): string {
    const phone = this.#context
      .state()
      .pairedPhones.find((p) => constantTimeEqual(p.identityPublicKey, phoneKey));
    if (!phone) throw new CardProtocolError("NOT_PAIRED", "mpc", "phone is not paired");
    return phone.userId;
  }

  #wallet(walletId: Uint8Array): CardWallet {
    const record = (this.#context.state().wallets ?? []).find((w) =>
      constantTimeEqual(w.wallet.walletId, walletId),
    );
    if (!record)
      throw new CardProtocolError("UNKNOWN_WALLET", "mpc", `no wallet ${toHex(walletId)} on this card`);
    return record;
  }

  /**
   * Participant 1 is the phone that created the wallet; participant 3 (the recovery share) may
   * be brought by any phone paired for the wallet's user (the lost-phone case).
   */
  #authorize(record: CardWallet, participant: number, phoneKey: Uint8Array, userId: string): void {
    if (participant === Participant.phone) {
      if (!constantTimeEqual(record.ownerPhoneKey, phoneKey)) {
        throw new CardProtocolError("NOT_WALLET_OWNER", "mpc", "the wallet belongs to another phone");
      }
    } else if (participant === Participant.recovery && record.wallet.maxSigners === 3) {
      if (userId !== record.userId) {
        throw new CardProtocolError("NOT_WALLET_OWNER", "mpc", "the wallet belongs to another user");
      }
    } else {
      throw new CardProtocolError(
        "WRONG_PARTICIPANT",
        "mpc",
        `${participantName(participant)} cannot sign with this wallet`,
      );
    }
  }

  #checkRoomFor(state: CardState, walletId: Uint8Array): void {
    const wallets = state.wallets ?? [];
    if (wallets.some((w) => constantTimeEqual(w.wallet.walletId, walletId))) {
      throw new CardProtocolError("WALLET_EXISTS", "mpc", "a wallet with this id exists");
    }
    if (wallets.length >= MAX_WALLETS)
      throw new CardProtocolError("WALLET_FULL", "mpc", "no room for a wallet");
  }

  #today(): number {
    return Math.floor(this.#context.clock.now() / DAY_MS);
  }

  #checkLimit(record: CardWallet): void {
    const limit = this.#context.policy.dailySignLimit;
    const used = record.signDay === this.#today() ? record.signsToday : 0;
    if (limit !== undefined && used >= limit) {
      throw new CardProtocolError(
        "DAILY_LIMIT",
        "mpc",
        `wallet reached its limit of ${limit} signatures today`,
      );
    }
  }

  /** The wallet with one more signature today, re-checked against the limit on the current state. */
  #counted(record: CardWallet): CardWallet {
    this.#checkLimit(record);
    const today = this.#today();
    return { ...record, signDay: today, signsToday: (record.signDay === today ? record.signsToday : 0) + 1 };
  }

  /** A phone's commitments are one-time (RFC 9591 §5.1): the card refuses to sign twice against them. */
  #rememberCommitments(hiding: Uint8Array, binding: Uint8Array): void {
    const key = toHex(hiding) + toHex(binding);
    if (this.#seenCommitments.has(key)) {
      throw new CardProtocolError("COMMITMENT_REUSED", "mpc", "these signing commitments were used before");
    }
    if (this.#seenCommitments.size >= REMEMBERED_COMMITMENTS) {
      this.#seenCommitments.delete(this.#seenCommitments.values().next().value!);
    }
    this.#seenCommitments.add(key);
  }
}

/** One line a user can check: wallet, signer and payload (hex, or the text of a UTF-8 message). */
function describe(view: SignRequestView): string {
  const who = view.participant === Participant.phone ? "owner phone" : "recovery share";
  let what = `digest ${toHex(view.payload)}`;
  if (view.kind === "message") {
    try {
      // JSON escapes control characters, so a message cannot forge display lines.
      what = `message ${JSON.stringify(new TextDecoder("utf-8", { fatal: true }).decode(view.payload))}`;
    } catch {
      what = `message 0x${toHex(view.payload)}`;
    }
  }
  return `wallet ${toHex(view.wallet.walletId)} ${JSON.stringify(view.wallet.label)} (${who}): ${what}`;
}
