import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256_FROST } from "@noble/curves/nist.js";
import { schnorr } from "@noble/curves/secp256k1.js";
import {
  ActiveCardPhone,
  CardWallets,
  type CiphersuiteName,
  MemoryPairedCardStore,
  openRecoveryKit,
  SoftwareWalletKeystore,
  signWithoutCard,
  utf8,
} from "@pairkit/core";
import { FileSecureElementVault, nodeCrypto } from "@pairkit/core/node";
import { describe, expect, it } from "vitest";
import { CardSimulator, JsonFileCardStore, MemoryCardStore } from "../../src/card/index.ts";
import { connect } from "./support.ts";

const crypto = nodeCrypto;
const cardInfo = { deviceName: "AC-Bob-Key", ownerUser: "bob@example.com", firmwareVersion: "1.0.3" };
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

/** The ciphersuite's plain verifier, not FROST's: what a chain or a relying party runs. */
function plainVerify(
  suite: CiphersuiteName,
  signature: Uint8Array,
  message: Uint8Array,
  groupKey: Uint8Array,
) {
  switch (suite) {
    case "p256":
      return p256_FROST.verify(signature, message, groupKey);
    case "secp256k1-taproot":
      return schnorr.verify(signature, message, groupKey.subarray(1));
    case "ed25519":
      return ed25519.verify(signature, message, groupKey);
  }
}

async function pairedPhone(card: CardSimulator, userId = "bob@example.com") {
  const store = new MemoryPairedCardStore();
  const phone = new ActiveCardPhone({ crypto, store });
  await (await phone.pair(connect(card).phoneLink, card.qrPayload(), userId)).close();
  const keystore = SoftwareWalletKeystore.inMemory();
  const open = async () => {
    const session = await phone.reconnect(connect(card).phoneLink, card.deviceId);
    return { session, wallets: new CardWallets(session, { crypto, keystore }) };
  };
  return { phone, store, keystore, open };
}

describe("MPC wallets over the Active Card session", () => {
  it.each<CiphersuiteName>(["p256", "secp256k1-taproot", "ed25519"])(
    "2-of-2 %s: DKG, then co-signed digest and message verify with the plain verifier",
    async (suite) => {
      const log: string[] = [];
      const card = await CardSimulator.open({
        crypto,
        store: new MemoryCardStore(),
        ...cardInfo,
        log: (l) => log.push(l),
      });
      const phone = await pairedPhone(card);
      const { session, wallets } = await phone.open();
      const { wallet, recoveryKit } = await wallets.createWallet({ ciphersuite: suite, label: "savings" });
      expect(recoveryKit).toBeUndefined();
      expect(wallet).toMatchObject({ ciphersuite: suite, minSigners: 2, maxSigners: 2 });
      expect(card.wallets.map((w) => w.groupPublicKey)).toEqual([wallet.groupPublicKey]);

      const digest = crypto.sha256(utf8("pay 1 BTC to carol"));
      const signature = await wallets.sign(wallet.walletId, { digest });
      expect(plainVerify(suite, signature, digest, wallet.groupPublicKey)).toBe(true);
      const message = utf8("login to example.com at 12:00");
      const signed = await wallets.sign(wallet.walletId, { message });
      expect(plainVerify(suite, signed, message, wallet.groupPublicKey)).toBe(true);
      expect(plainVerify(suite, signed, digest, wallet.groupPublicKey)).toBe(false);
      await session.close();
      expect(log.filter((l) => l.startsWith("signed:"))).toHaveLength(2);
      expect(log).toContainEqual(expect.stringContaining('message "login to example.com at 12:00"'));
      card.destroy();
    },
  );

  it("survives reconnects and restarts of both sides (file card store, vault keystore)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pairkit-mpc-"));
    try {
      const cardPath = join(dir, "card.json");
      const vault = () =>
        new FileSecureElementVault(join(dir, "phone.se"), crypto, {
          passphrase: "phone-pin-1234",
          scrypt: FAST_SCRYPT,
        });
      let card = await CardSimulator.open({ crypto, store: new JsonFileCardStore(cardPath), ...cardInfo });
      const store = new MemoryPairedCardStore();
      const phone = new ActiveCardPhone({ crypto, store });
      await (await phone.pair(connect(card).phoneLink, card.qrPayload(), "bob@example.com")).close();
      let keystore = await SoftwareWalletKeystore.open(vault());
      let session = await phone.reconnect(connect(card).phoneLink, card.deviceId);
      const { wallet } = await new CardWallets(session, { crypto, keystore }).createWallet();
      await session.close();
      card.destroy();

      card = await CardSimulator.open({ crypto, store: new JsonFileCardStore(cardPath), ...cardInfo });
      keystore = await SoftwareWalletKeystore.open(vault());
      session = await phone.reconnect(connect(card).phoneLink, card.deviceId);
      const digest = crypto.randomBytes(32);
      const signature = await new CardWallets(session, { crypto, keystore }).sign(wallet.walletId, {
        digest,
      });
      expect(p256_FROST.verify(signature, digest, wallet.groupPublicKey)).toBe(true);
      await session.close();
      card.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("2-of-3: lost card (phone + recovery kit) and lost phone (new phone + card + kit) both sign", async () => {
    const card = await CardSimulator.open({ crypto, store: new MemoryCardStore(), ...cardInfo });
    const phone = await pairedPhone(card);
    const { session, wallets } = await phone.open();
    const { wallet, recoveryKit } = await wallets.createWallet({
      ciphersuite: "ed25519",
      recovery: { passphrase: "correct horse battery", scrypt: FAST_SCRYPT },
    });
    await session.close();
    expect(wallet.maxSigners).toBe(3);
    const recovery = await openRecoveryKit(crypto, recoveryKit!, { passphrase: "correct horse battery" });
    await expect(
      openRecoveryKit(crypto, recoveryKit!, { passphrase: "wrong horse battery" }),
    ).rejects.toMatchObject({
      code: "RECOVERY_KIT_LOCKED",
    });

    // Lost card: the phone and the kit sign without it.
    const digest = crypto.randomBytes(32);
    const offline = await signWithoutCard(phone.keystore, recovery, { digest });
    expect(ed25519.verify(offline, digest, wallet.groupPublicKey)).toBe(true);

    // Lost phone: a new phone of the same user pairs with the card and signs with the kit.
    const newPhone = await pairedPhone(card);
    const opened = await newPhone.open();
    const recovered = await opened.wallets.recover(recovery, { digest });
    expect(ed25519.verify(recovered, digest, wallet.groupPublicKey)).toBe(true);
    // ... then re-creates a fresh phone/card pair by a new DKG.
    const fresh = await opened.wallets.createWallet({ ciphersuite: "ed25519" });
    expect(fresh.wallet.groupPublicKey).not.toEqual(wallet.groupPublicKey);
    await opened.session.close();
    card.destroy();
  });

  it("2-of-3 sealed to a recovery public key opens only with its private key", async () => {
    const card = await CardSimulator.open({ crypto, store: new MemoryCardStore(), ...cardInfo });
    const phone = await pairedPhone(card);
    const { session, wallets } = await phone.open();
    const recoveryKey = crypto.generateKeyPair();
    const { wallet, recoveryKit } = await wallets.createWallet({
      recovery: { recoveryPublicKey: recoveryKey.publicKey },
    });
    await session.close();
    await expect(
      openRecoveryKit(crypto, recoveryKit!, { recoveryPrivateKey: crypto.generateKeyPair().privateKey }),
    ).rejects.toMatchObject({ code: "RECOVERY_KIT_LOCKED" });
    const recovery = await openRecoveryKit(crypto, recoveryKit!, {
      recoveryPrivateKey: recoveryKey.privateKey,
    });
    const digest = crypto.randomBytes(32);
    const signature = await signWithoutCard(phone.keystore, recovery, { digest });
    expect(p256_FROST.verify(signature, digest, wallet.groupPublicKey)).toBe(true);
    card.destroy();
  });
});
