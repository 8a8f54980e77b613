import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type CiphersuiteName,
  ciphersuiteByName,
  exportRecovery,
  identifierOf,
  MpcError,
  openRecoveryKit,
  Participant,
  type RecoveryShare,
  SoftwareWalletKeystore,
  signWithoutCard,
  utf8,
  walletPublicFrom,
} from "../../../src/index.ts";
import { FileSecureElementVault, nodeCrypto } from "../../../src/node/index.ts";

const crypto = nodeCrypto;
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

/** A 2-of-3 wallet from the library's trusted dealer: the recovery share and the phone's share. */
function dealtWallet(name: CiphersuiteName) {
  const suite = ciphersuiteByName(name);
  const ids = [1, 2, 3].map((i) => identifierOf(suite, i));
  const deal = suite.frost.trustedDealer({ min: 2, max: 3 }, ids);
  const wallet = walletPublicFrom(suite, { walletId: crypto.randomBytes(16), label: "kit" }, deal.public);
  const share = (i: number) => deal.secretShares[identifierOf(suite, i)]!.signingShare;
  return {
    wallet,
    recovery: { wallet, signingShare: share(Participant.recovery) } as RecoveryShare,
    phone: share(1),
  };
}

async function failureCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MpcError);
  return (error as MpcError).code;
}

describe("recovery kit (docs/protocol.md §4.11.7)", () => {
  it.each<CiphersuiteName>(["p256", "secp256k1-taproot", "ed25519"])(
    "%s: seals to a passphrase and to a recovery key; only the right secret opens it",
    async (name) => {
      const { recovery } = dealtWallet(name);
      const byPassphrase = await exportRecovery(crypto, recovery, {
        passphrase: "correct horse",
        scrypt: FAST_SCRYPT,
      });
      const opened = await openRecoveryKit(crypto, byPassphrase, { passphrase: "correct horse" });
      expect(opened.signingShare).toEqual(recovery.signingShare);
      expect(opened.wallet).toEqual(recovery.wallet);
      expect(await failureCode(openRecoveryKit(crypto, byPassphrase, { passphrase: "correct horsf" }))).toBe(
        "RECOVERY_KIT_LOCKED",
      );

      const key = crypto.generateKeyPair();
      const byKey = await exportRecovery(crypto, recovery, { recoveryPublicKey: key.publicKey });
      expect(
        (await openRecoveryKit(crypto, byKey, { recoveryPrivateKey: key.privateKey })).signingShare,
      ).toEqual(recovery.signingShare);
      const other = crypto.generateKeyPair().privateKey;
      expect(await failureCode(openRecoveryKit(crypto, byKey, { recoveryPrivateKey: other }))).toBe(
        "RECOVERY_KIT_LOCKED",
      );
      // The secret of the other mode.
      expect(await failureCode(openRecoveryKit(crypto, byKey, { passphrase: "correct horse" }))).toBe(
        "RECOVERY_KIT_LOCKED",
      );
    },
  );

  it("any changed byte of a kit is refused as locked or malformed, never accepted, never another error", async () => {
    const { recovery } = dealtWallet("p256");
    const key = crypto.generateKeyPair();
    const kit = await exportRecovery(crypto, recovery, { recoveryPublicKey: key.publicKey });
    const codes = new Set<string>();
    for (let i = 0; i < kit.length; i++) {
      const changed = kit.slice();
      changed[i]! ^= 0x01;
      codes.add(await failureCode(openRecoveryKit(crypto, changed, { recoveryPrivateKey: key.privateKey })));
    }
    expect([...codes].sort()).toEqual(["RECOVERY_KIT_LOCKED", "RECOVERY_KIT_MALFORMED"]);
    expect(await failureCode(openRecoveryKit(crypto, utf8("not a kit"), { passphrase: "x" }))).toBe(
      "RECOVERY_KIT_MALFORMED",
    );
  });

  it("bad protection is BAD_OPTIONS before anything is sealed", async () => {
    const { recovery } = dealtWallet("ed25519");
    expect(await failureCode(exportRecovery(crypto, recovery, { passphrase: "short" }))).toBe("BAD_OPTIONS");
    expect(
      await failureCode(exportRecovery(crypto, recovery, { recoveryPublicKey: new Uint8Array(65).fill(4) })),
    ).toBe("BAD_OPTIONS");
  });

  it("lost card: the phone's share and the kit sign alone; a kit of another wallet is refused", async () => {
    const { wallet, recovery, phone } = dealtWallet("ed25519");
    const keystore = SoftwareWalletKeystore.inMemory();
    await keystore.put({ wallet, deviceId: "card-1", participant: 1, signingShare: phone, createdAt: 1 });
    const message = utf8("move everything to the new wallet");
    const signature = await signWithoutCard(keystore, recovery, { message });
    expect(ciphersuiteByName("ed25519").frost.verify(signature, message, wallet.groupPublicKey)).toBe(true);
    const stranger = dealtWallet("ed25519");
    const mixed = {
      wallet: { ...stranger.wallet, walletId: wallet.walletId },
      signingShare: stranger.recovery.signingShare,
    };
    expect(await failureCode(signWithoutCard(keystore, mixed, { message }))).toBe("RECOVERY_KIT_MALFORMED");
    expect(await failureCode(signWithoutCard(keystore, recovery, { digest: new Uint8Array(31) }))).toBe(
      "BAD_OPTIONS",
    );
  });
});

describe("SoftwareWalletKeystore", () => {
  it("keeps shares across reopening through an encrypted file vault, and erases them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pairkit-keystore-"));
    try {
      const vault = () =>
        new FileSecureElementVault(join(dir, "wallets.se"), crypto, {
          passphrase: "pin-123456",
          scrypt: FAST_SCRYPT,
        });
      const { wallet, phone } = dealtWallet("p256");
      const first = await SoftwareWalletKeystore.open(vault());
      await first.put({ wallet, deviceId: "card-1", participant: 1, signingShare: phone, createdAt: 7 });
      const reopened = await SoftwareWalletKeystore.open(vault());
      const share = await reopened.get(wallet.walletId);
      expect(share).toEqual({
        wallet,
        deviceId: "card-1",
        participant: 1,
        signingShare: phone,
        createdAt: 7,
      });
      expect((await reopened.list()).map((w) => w.deviceId)).toEqual(["card-1"]);
      expect(await reopened.delete(wallet.walletId)).toBe(true);
      expect(await reopened.delete(wallet.walletId)).toBe(false);
      expect(await (await SoftwareWalletKeystore.open(vault())).get(wallet.walletId)).toBeUndefined();
      // Something else in the vault is not taken for shares.
      await vault().save(utf8('{"format":"something-else"}'));
      expect(await failureCode(SoftwareWalletKeystore.open(vault()))).toBe("KEYSTORE_CORRUPT");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
