import {
  ActiveCardEvent,
  ActiveCardPhone,
  CardProtocolError,
  CardRefusedError,
  CardWallets,
  ciphersuiteByName,
  identifierOf,
  type LinkMessage,
  MemoryPairedCardStore,
  MpcDkgFinishSchema,
  MpcDkgStartSchema,
  MpcSignPackageSchema,
  MpcSignRequestSchema,
  SoftwareWalletKeystore,
} from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CardMpcPolicy, CardSimulator, MemoryCardStore } from "../../src/card/index.ts";
import { ScriptedMpcPhone } from "./mpc-script.ts";
import { connect, ManualClock, messageTypeOf } from "./support.ts";

const crypto = nodeCrypto;
const cardInfo = { deviceName: "AC-Bob-Key", ownerUser: "bob@example.com", firmwareVersion: "1.0.3" };

async function newCard(
  options: { policy?: CardMpcPolicy; clock?: ManualClock; store?: MemoryCardStore } = {},
) {
  const store = options.store ?? new MemoryCardStore();
  const card = await CardSimulator.open({
    crypto,
    store,
    ...cardInfo,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.policy ? { mpcPolicy: options.policy } : {}),
  });
  return { card, store };
}

/** An SDK phone paired with the card, and a way to open a wallet session on it. */
async function sdkPhone(card: CardSimulator, clock?: ManualClock) {
  const store = new MemoryPairedCardStore();
  const phone = new ActiveCardPhone({ crypto, store, timeoutMs: 1000, ...(clock ? { clock } : {}) });
  await (await phone.pair(connect(card).phoneLink, card.qrPayload(), "bob@example.com")).close();
  const keystore = SoftwareWalletKeystore.inMemory();
  const open = async () => {
    const link = connect(card);
    const session = await phone.reconnect(link.phoneLink, card.deviceId);
    return { session, link, wallets: new CardWallets(session, { crypto, keystore }) };
  };
  return { phone, store, keystore, open };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CardRefusedError);
  expect(error).toMatchObject({ phase: "mpc" });
  return (error as CardRefusedError).reason;
}

/** The card still runs a whole DKG and a signature for a fresh phone. */
async function expectStillServes(card: CardSimulator) {
  const phone = await sdkPhone(card);
  const { session, link, wallets } = await phone.open();
  const { wallet } = await wallets.createWallet();
  await wallets.sign(wallet.walletId, { digest: crypto.randomBytes(32) });
  await session.close();
  await link.served;
  expect(link.errors).toEqual([]);
}

describe("MPC attacks: typed errors, nothing stored, the card keeps serving", () => {
  it("a DKG message recorded in one session and replayed into another is refused before it is read", async () => {
    const { card, store } = await newCard();
    const phone = await sdkPhone(card);
    // Record the SDK phone's encrypted MPC_DKG_START on the air.
    const recorded: LinkMessage[] = [];
    const first = connect(card, {
      phone: (m) => {
        if (messageTypeOf(m) === ActiveCardEvent.MPC_DKG_START) recorded.push(m);
        return [m];
      },
    });
    const session = await phone.phone.reconnect(first.phoneLink, card.deviceId);
    await new CardWallets(session, { crypto, keystore: phone.keystore }).createWallet();
    await session.close();
    await first.served;
    const wallets = card.wallets.length;

    const attacker = await ScriptedMpcPhone.pair(crypto, card);
    const afterPairing = store.saves;
    await attacker.link.phoneLink.send(recorded[0]!);
    await attacker.close();
    expect(attacker.link.errors.map((e) => e.code)).toEqual(["SESSION_MISMATCH"]);
    expect([store.saves - afterPairing, card.wallets.length]).toEqual([0, wallets]);
    await expectStillServes(card);
  });

  it("a DKG transcript bound to another session id does not finish: TRANSCRIPT_MISMATCH", async () => {
    const { card, store } = await newCard();
    const phone = await ScriptedMpcPhone.pair(crypto, card);
    const saves = store.saves;
    const reason = await refusal(phone.dkg({ transcriptSessionId: crypto.randomBytes(16) }));
    expect(reason).toBe("TRANSCRIPT_MISMATCH");
    await phone.close();
    expect(phone.link.errors.map((e) => e.code)).toEqual(["TRANSCRIPT_MISMATCH"]);
    expect([store.saves, card.wallets.length]).toEqual([saves, 0]);
    await expectStillServes(card);
  });

  const wrongParticipant: [string, Parameters<ScriptedMpcPhone["dkg"]>[0]][] = [
    [
      "a round-1 package claiming the card's identifier",
      {
        start: (m) => {
          m.packages[0]!.participant = 2;
        },
      },
    ],
    [
      "a DKG share from the recovery identifier in a 2-of-2 wallet",
      {
        finish: (m) => {
          m.shares[0]!.sender = 3;
        },
      },
    ],
  ];
  it.each(wrongParticipant)("%s is WRONG_PARTICIPANT", async (_, edit) => {
    const { card, store } = await newCard();
    const phone = await ScriptedMpcPhone.pair(crypto, card);
    const saves = store.saves;
    expect(await refusal(phone.dkg(edit))).toBe("WRONG_PARTICIPANT");
    await phone.close();
    expect([store.saves, card.wallets.length]).toEqual([saves, 0]);
    await expectStillServes(card);
  });

  it("a tampered DKG share is caught by the VSS check before round 3, naming the sender", async () => {
    const { card, store } = await newCard();
    const phone = await ScriptedMpcPhone.pair(crypto, card);
    const saves = store.saves;
    const reason = await refusal(
      phone.dkg({
        finish: (m) => {
          m.shares[0]!.signingShare[31]! ^= 1;
        },
      }),
    );
    expect(reason).toBe("INVALID_DKG_SHARE");
    await phone.close();
    const error = phone.link.errors[0] as CardProtocolError;
    expect(error).toMatchObject({ code: "INVALID_DKG_SHARE", phase: "mpc" });
    expect(error.message).toContain("from phone (participant 1)");
    expect([store.saves, card.wallets.length]).toEqual([saves, 0]);
    await expectStillServes(card);
  });

  it("a card whose signature share is wrong is caught by verifyShare, naming the card; no signature leaves", async () => {
    const { card, store } = await newCard();
    const phone = await sdkPhone(card);
    const opened = await phone.open();
    const { wallet } = await opened.wallets.createWallet();
    await opened.session.close();
    card.destroy();
    // A faulty card: its flash holds a different share (a bit flip).
    const state = (await store.load())!;
    const bad = state.wallets![0]!;
    const flipped = bad.signingShare.slice();
    flipped[31]! ^= 1;
    await store.save({ ...state, wallets: [{ ...bad, signingShare: flipped }] });
    const faulty = await CardSimulator.open({ crypto, store, ...cardInfo });

    const link = connect(faulty);
    const session = await phone.phone.reconnect(link.phoneLink, faulty.deviceId);
    const error = await new CardWallets(session, { crypto, keystore: phone.keystore })
      .sign(wallet.walletId, { digest: crypto.randomBytes(32) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CardProtocolError);
    expect(error).toMatchObject({ code: "INVALID_SHARE", phase: "mpc" });
    expect((error as Error).message).toContain("card (participant 2)");
    await session.close();
    await link.served;
  });

  it("a forgotten phone cannot sign: its wallets are erased with it, another phone cannot use them", async () => {
    const { card } = await newCard();
    const phone = await sdkPhone(card);
    const opened = await phone.open();
    const { wallet } = await opened.wallets.createWallet({ label: "to forget" });
    await opened.session.forget();
    await opened.session.close();
    await opened.link.served;
    expect(card.wallets).toEqual([]);
    // The phone kept its share (and its pairing, restored from a backup): the card refuses it.
    expect(await phone.keystore.get(wallet.walletId)).toBeDefined();
    const other = await ScriptedMpcPhone.pair(crypto, card);
    expect(await refusal(other.requestSignature(wallet.walletId, crypto.randomBytes(16), 3))).toBe(
      "UNKNOWN_WALLET",
    );
    await other.close();
    await expectStillServes(card);
  });

  it("a wallet is its creator's: another paired phone signing as participant 1 is NOT_WALLET_OWNER", async () => {
    const { card, store } = await newCard();
    const owner = await ScriptedMpcPhone.pair(crypto, card);
    const { wallet } = await owner.dkg();
    await owner.close();
    const other = await ScriptedMpcPhone.pair(crypto, card);
    const saves = store.saves;
    expect(await refusal(other.requestSignature(wallet!.walletId, crypto.randomBytes(16), 1))).toBe(
      "NOT_WALLET_OWNER",
    );
    await other.close();
    // And the recovery identifier means nothing in a 2-of-2 wallet.
    const again = await owner.reconnect();
    expect(await refusal(again.requestSignature(wallet!.walletId, crypto.randomBytes(16), 3))).toBe(
      "WRONG_PARTICIPANT",
    );
    await again.close();
    expect(store.saves).toBe(saves);
  });

  it("round 2 replayed after a signature, and round-1 commitments reused in a new request, are refused", async () => {
    const { card, store } = await newCard();
    const phone = await ScriptedMpcPhone.pair(crypto, card);
    const { wallet, signingShare } = await phone.dkg();
    await phone.close();
    const suite = ciphersuiteByName("p256");
    const own = suite.frost.commit({ identifier: identifierOf(suite, 1), signingShare: signingShare! });

    const session = await phone.reconnect();
    const signId = crypto.randomBytes(16);
    await session.requestSignature(wallet!.walletId, signId);
    await session.sendCommitments(signId, own.commitments.hiding, own.commitments.binding);
    const saves = store.saves;
    // The same round 2 again: its nonces are gone.
    expect(
      await refusal(session.sendCommitments(signId, own.commitments.hiding, own.commitments.binding)),
    ).toBe("ROUND_OUT_OF_ORDER");
    await session.close();

    // A new request answered with the old commitments.
    const next = await phone.reconnect();
    const nextId = crypto.randomBytes(16);
    await next.requestSignature(wallet!.walletId, nextId);
    expect(await refusal(next.sendCommitments(nextId, own.commitments.hiding, own.commitments.binding))).toBe(
      "COMMITMENT_REUSED",
    );
    await next.close();
    expect(store.saves).toBe(saves);
    await expectStillServes(card);
  });

  it("a round dropped mid-way (or a card restart between rounds) stores nothing and reuses no nonce; a retry signs", async () => {
    const { card, store } = await newCard();
    const sdk = await sdkPhone(card);
    const opened = await sdk.open();
    const { wallet } = await opened.wallets.createWallet();
    await opened.session.close();
    await opened.link.served;
    const scripted = await ScriptedMpcPhone.pair(crypto, card);
    await scripted.close();
    const saves = store.saves;

    // DKG dropped after the card's round: no wallet.
    const dkgDrop = await scripted.reconnect();
    await dkgDrop.dkg({ stopAfterCardRound: true });
    await dkgDrop.close();
    expect([store.saves, card.wallets.length]).toEqual([saves, 1]);

    // Signing dropped after round 1, then the card restarts: the commitment it gave is dead.
    const raw = connect(card);
    const session = await sdk.phone.reconnect(raw.phoneLink, card.deviceId);
    const channel = session.liveChannel();
    const signId = crypto.randomBytes(16);
    await channel.send(ActiveCardEvent.MPC_SIGN_REQUEST, MpcSignRequestSchema, {
      walletId: wallet.walletId,
      signId,
      participant: 1,
      kind: 1,
      payload: new Uint8Array(32),
    });
    const first = await channel.receive("mpc");
    expect(first.type).toBe(ActiveCardEvent.MPC_SIGN_COMMITMENT);
    await session.close();
    await raw.served;
    expect(store.saves).toBe(saves);
    card.destroy();
    const restarted = await CardSimulator.open({ crypto, store, ...cardInfo });

    const retry = await sdk.phone.reconnect(connect(restarted).phoneLink, restarted.deviceId);
    const digest = crypto.randomBytes(32);
    const signature = await new CardWallets(retry, { crypto, keystore: sdk.keystore }).sign(wallet.walletId, {
      digest,
    });
    expect(ciphersuiteByName("p256").frost.verify(signature, digest, wallet.groupPublicKey)).toBe(true);
    await retry.close();
  });

  it("the card's policy: a daily limit counted in flash, and a refusal hook", async () => {
    const clock = new ManualClock();
    const seen: string[] = [];
    const { card, store } = await newCard({
      clock,
      policy: {
        dailySignLimit: 1,
        approve: (r) => {
          seen.push(r.kind);
          return r.kind === "digest";
        },
      },
    });
    const phone = await sdkPhone(card, clock);
    let opened = await phone.open();
    const { wallet } = await opened.wallets.createWallet();
    await opened.wallets.sign(wallet.walletId, { digest: crypto.randomBytes(32) });
    const saves = store.saves;
    expect(await refusal(opened.wallets.sign(wallet.walletId, { digest: crypto.randomBytes(32) }))).toBe(
      "DAILY_LIMIT",
    );
    await opened.session.close();
    opened = await phone.open();
    expect(await refusal(opened.wallets.sign(wallet.walletId, { message: new Uint8Array([1, 2]) }))).toBe(
      "POLICY_REFUSED",
    );
    await opened.session.close();
    expect(store.saves).toBe(saves);
    // The count survives a restart; the next day the wallet signs again.
    card.destroy();
    const restarted = await CardSimulator.open({
      crypto,
      store,
      clock,
      ...cardInfo,
      mpcPolicy: { dailySignLimit: 1 },
    });
    const link = connect(restarted);
    let session = await phone.phone.reconnect(link.phoneLink, restarted.deviceId);
    const wallets = () => new CardWallets(session, { crypto, keystore: phone.keystore });
    expect(await refusal(wallets().sign(wallet.walletId, { digest: crypto.randomBytes(32) }))).toBe(
      "DAILY_LIMIT",
    );
    await session.close();
    clock.advance(86_400_000);
    session = await phone.phone.reconnect(connect(restarted).phoneLink, restarted.deviceId);
    await wallets().sign(wallet.walletId, { digest: crypto.randomBytes(32) });
    await session.close();
    expect(seen).toEqual(["digest", "digest", "message"]);
  });

  it("the SDK refuses bad input locally (BAD_OPTIONS, UNKNOWN_WALLET, WRONG_CARD) and ends the session on a refusal", async () => {
    const { card, store } = await newCard({ policy: { approve: () => false } });
    const phone = await sdkPhone(card);
    const { session, link, wallets } = await phone.open();
    const saves = store.saves;
    const local = async (promise: Promise<unknown>) =>
      ((await promise.catch((e: unknown) => e)) as { code: string }).code;
    expect(await local(wallets.createWallet({ label: "x".repeat(65) }))).toBe("BAD_OPTIONS");
    expect(await local(wallets.createWallet({ ciphersuite: "p384" as never }))).toBe("BAD_OPTIONS");
    expect(await local(wallets.createWallet({ recovery: { passphrase: "short" } }))).toBe("BAD_OPTIONS");
    expect(await local(wallets.sign(crypto.randomBytes(16), { digest: crypto.randomBytes(32) }))).toBe(
      "UNKNOWN_WALLET",
    );
    const { wallet } = await wallets.createWallet();
    expect(await local(wallets.sign(wallet.walletId, { digest: new Uint8Array(31) }))).toBe("BAD_OPTIONS");
    expect(await local(wallets.sign(wallet.walletId, { message: new Uint8Array(513) }))).toBe("BAD_OPTIONS");
    // The share belongs to this card; a session with another card is not asked.
    const other = await newCard();
    const otherPhone = await sdkPhone(other.card);
    const otherSession = await otherPhone.open();
    const foreign = new CardWallets(otherSession.session, { crypto, keystore: phone.keystore });
    expect(await local(foreign.sign(wallet.walletId, { digest: crypto.randomBytes(32) }))).toBe("WRONG_CARD");
    await otherSession.session.close();
    // None of that reached the card; a refusal from the card ends the session on both sides.
    expect(store.saves).toBe(saves + 1);
    expect(await refusal(wallets.sign(wallet.walletId, { digest: crypto.randomBytes(32) }))).toBe(
      "POLICY_REFUSED",
    );
    expect(await local(wallets.sign(wallet.walletId, { digest: crypto.randomBytes(32) }))).toBe(
      "SESSION_CLOSED",
    );
    await session.close();
    await link.served;
    expect(link.errors.map((e) => e.code)).toEqual(["POLICY_REFUSED"]);
  });

  it("random MPC messages of any type and shape never crash the card or change its state", async () => {
    const { card, store } = await newCard();
    const phone = await ScriptedMpcPhone.pair(crypto, card);
    await phone.close();
    const saves = store.saves;
    const bytes = fc.uint8Array({ maxLength: 70 });
    const small = fc.integer({ min: 0, max: 5 });
    const pkg = fc.record({
      participant: small,
      commitment: fc.array(bytes, { maxLength: 3 }),
      proofOfKnowledge: bytes,
    });
    const share = fc.record({ sender: small, receiver: small, signingShare: bytes });
    // Any body shape under any MPC type: a sign request sent as MPC_DKG_START decodes as junk, too.
    const message = fc.oneof(
      fc.record({
        schema: fc.constant(MpcDkgStartSchema),
        init: fc.record({
          walletId: bytes,
          ciphersuite: small,
          minSigners: small,
          maxSigners: small,
          packages: fc.array(pkg, { maxLength: 3 }),
          label: fc.string(),
        }),
      }),
      fc.record({
        schema: fc.constant(MpcDkgFinishSchema),
        init: fc.record({
          walletId: bytes,
          shares: fc.array(share, { maxLength: 3 }),
          transcriptHash: bytes,
        }),
      }),
      fc.record({
        schema: fc.constant(MpcSignRequestSchema),
        init: fc.record({ walletId: bytes, signId: bytes, participant: small, kind: small, payload: bytes }),
      }),
      fc.record({
        schema: fc.constant(MpcSignPackageSchema),
        init: fc.record({ signId: bytes, participant: small, hiding: bytes, binding: bytes }),
      }),
    );
    const type = fc.constantFrom(
      ActiveCardEvent.MPC_DKG_START,
      ActiveCardEvent.MPC_DKG_FINISH,
      ActiveCardEvent.MPC_SIGN_REQUEST,
      ActiveCardEvent.MPC_SIGN_PACKAGE,
    );
    await fc.assert(
      fc.asyncProperty(type, message, async (t, m) => {
        const session = await phone.reconnect();
        await session.channel.send(t, m.schema as typeof MpcDkgStartSchema, m.init as never);
        // Whatever the card answers (a refusal, or its next round), the session then ends.
        await session.channel.receive("mpc", 2000).catch(() => {});
        await session.close();
        for (const error of session.link.errors) expect(error).toBeInstanceOf(CardProtocolError);
      }),
      { numRuns: 40 },
    );
    expect([store.saves, card.wallets.length]).toEqual([saves, 0]);
    await expectStillServes(card);
  });
});
