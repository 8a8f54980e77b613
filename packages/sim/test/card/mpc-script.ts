import { create } from "@bufbuild/protobuf";
import {
  ActiveCardEvent,
  type CardChannel,
  type Crypto,
  ciphersuiteByName,
  decodeBody,
  dkgPackageFromWire,
  dkgPackageToWire,
  dkgTranscriptHash,
  expectMessage,
  identifierOf,
  MpcDkgCardRoundSchema,
  type MpcDkgFinish,
  MpcDkgFinishSchema,
  type MpcDkgResult,
  MpcDkgResultSchema,
  type MpcDkgStart,
  MpcDkgStartSchema,
  MpcPayloadKind,
  MpcSignCommitmentSchema,
  MpcSignPackageSchema,
  MpcSignRequestSchema,
  MpcSignShareSchema,
  type P256KeyPair,
  PairingConfirmationSchema,
  UserIdentitySchema,
  utf8,
  type WalletPublic,
  walletPublicFrom,
} from "@pairkit/core";
import type { CardSimulator } from "../../src/card/index.ts";
import { connect, scriptedHandshake } from "./support.ts";

/**
 * A phone that speaks the MPC messages of docs §4.9 from the exported building blocks, for
 * attacks the SDK will not make: every message can be edited before it is sent.
 */
export class ScriptedMpcPhone {
  private constructor(
    readonly crypto: Crypto,
    readonly identity: P256KeyPair,
    readonly channel: CardChannel,
    readonly link: ReturnType<typeof connect>,
    readonly card: CardSimulator,
  ) {}

  /** Pairs a fresh identity with the card (binding `userId`) and keeps the session open. */
  static async pair(crypto: Crypto, card: CardSimulator, userId = "bob@example.com") {
    const identity = crypto.generateKeyPair();
    const link = connect(card);
    const channel = await scriptedHandshake(crypto, link.phoneLink, identity);
    await channel.send(ActiveCardEvent.SEND_USER_IDENTITY, UserIdentitySchema, {
      encryptedUserId: utf8(userId),
    });
    decodeBody(
      PairingConfirmationSchema,
      await expectMessage(channel, "binding", ActiveCardEvent.PAIRING_CONFIRMATION),
      "binding",
    );
    return new ScriptedMpcPhone(crypto, identity, channel, link, card);
  }

  /** Another session with the same identity (reconnect). */
  async reconnect(): Promise<ScriptedMpcPhone> {
    const link = connect(this.card);
    const channel = await scriptedHandshake(this.crypto, link.phoneLink, this.identity, { reconnect: true });
    return new ScriptedMpcPhone(this.crypto, this.identity, channel, link, this.card);
  }

  async close(): Promise<void> {
    await this.link.phoneLink.close();
    await this.link.served;
  }

  /**
   * A 2-of-2 P-256 DKG; `edit.start` / `edit.finish` change the messages before they go out,
   * `edit.transcriptSessionId` computes the transcript hash for another session.
   */
  async dkg(
    edit: {
      start?: (m: MpcDkgStart) => void;
      finish?: (m: MpcDkgFinish) => void;
      transcriptSessionId?: Uint8Array;
      stopAfterCardRound?: boolean;
    } = {},
  ): Promise<{ result?: MpcDkgResult; wallet?: WalletPublic; signingShare?: Uint8Array }> {
    const suite = ciphersuiteByName("p256");
    const signers = { min: 2, max: 2 };
    const walletId = this.crypto.randomBytes(16);
    const mine = suite.frost.DKG.round1(identifierOf(suite, 1), signers);
    const start = create(MpcDkgStartSchema, {
      walletId,
      ciphersuite: suite.id,
      minSigners: 2,
      maxSigners: 2,
      packages: [dkgPackageToWire(1, mine.public)],
      label: "scripted",
    });
    edit.start?.(start);
    await this.channel.send(ActiveCardEvent.MPC_DKG_START, MpcDkgStartSchema, start);
    const round = decodeBody(
      MpcDkgCardRoundSchema,
      await expectMessage(this.channel, "mpc", ActiveCardEvent.MPC_DKG_CARD_ROUND),
      "mpc",
    );
    if (edit.stopAfterCardRound) return {};
    const cardPackage = dkgPackageFromWire(suite, round.package, 2, 2);
    const toCard = suite.frost.DKG.round2(mine.secret, [cardPackage]);
    const key = suite.frost.DKG.round3(
      mine.secret,
      [cardPackage],
      [{ identifier: identifierOf(suite, 2), signingShare: round.shares[0]!.signingShare }],
    );
    const wallet = walletPublicFrom(suite, { walletId, label: "scripted" }, key.public);
    const finish = create(MpcDkgFinishSchema, {
      walletId,
      shares: [{ sender: 1, receiver: 2, signingShare: toCard[identifierOf(suite, 2)]!.signingShare }],
      transcriptHash: dkgTranscriptHash(this.crypto, {
        sessionId: edit.transcriptSessionId ?? this.channel.sessionId,
        phoneIdentityPublicKey: this.identity.publicKey,
        cardIdentityPublicKey: this.card.identityPublicKey,
        walletId,
        suite,
        minSigners: 2,
        maxSigners: 2,
        label: "scripted",
        packages: [dkgPackageToWire(1, mine.public), dkgPackageToWire(2, cardPackage)],
        groupPublicKey: wallet.groupPublicKey,
      }),
    });
    edit.finish?.(finish);
    await this.channel.send(ActiveCardEvent.MPC_DKG_FINISH, MpcDkgFinishSchema, finish);
    const result = decodeBody(
      MpcDkgResultSchema,
      await expectMessage(this.channel, "mpc", ActiveCardEvent.MPC_DKG_RESULT),
      "mpc",
    );
    return { result, wallet, signingShare: key.secret.signingShare };
  }

  /** Sends MPC_SIGN_REQUEST and returns the card's commitment message. */
  async requestSignature(
    walletId: Uint8Array,
    signId: Uint8Array,
    participant = 1,
    payload = new Uint8Array(32),
  ) {
    await this.channel.send(ActiveCardEvent.MPC_SIGN_REQUEST, MpcSignRequestSchema, {
      walletId,
      signId,
      participant,
      kind: MpcPayloadKind.DIGEST,
      payload,
    });
    return decodeBody(
      MpcSignCommitmentSchema,
      await expectMessage(this.channel, "mpc", ActiveCardEvent.MPC_SIGN_COMMITMENT),
      "mpc",
    );
  }

  /** Sends MPC_SIGN_PACKAGE and returns the card's signature share. */
  async sendCommitments(signId: Uint8Array, hiding: Uint8Array, binding: Uint8Array, participant = 1) {
    await this.channel.send(ActiveCardEvent.MPC_SIGN_PACKAGE, MpcSignPackageSchema, {
      signId,
      participant,
      hiding,
      binding,
    });
    return decodeBody(
      MpcSignShareSchema,
      await expectMessage(this.channel, "mpc", ActiveCardEvent.MPC_SIGN_SHARE),
      "mpc",
    );
  }
}
