import { p256_FROST } from "@noble/curves/nist.js";
import { schnorr } from "@noble/curves/secp256k1.js";
import { ACTIVE_CARD_PIPE, FramedLink, openCentralFrameChannel, SimRadio } from "@pairkit/ble";
import {
  ActiveCardPhone,
  CardWallets,
  MemoryPairedCardStore,
  openRecoveryKit,
  SoftwareWalletKeystore,
} from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import { describe, expect, it } from "vitest";
import { CardSimulator, MemoryCardStore, serveCardOnPeripheral } from "../../src/card/index.ts";

const crypto = nodeCrypto;

describe("MPC over the simulated BLE radio", () => {
  it.each([23, 185])("2-of-3 DKG, co-sign, recover with the kit at ATT MTU %i", async (mtu) => {
    const radio = new SimRadio({ connectionIntervalMs: 1 });
    const lines: string[] = [];
    const card = await CardSimulator.open({
      crypto,
      store: new MemoryCardStore(),
      deviceName: "AC-Bob-Key",
      ownerUser: "bob@example.com",
      firmwareVersion: "1.0.3",
      log: (line) => lines.push(line),
    });
    const errors: unknown[] = [];
    await serveCardOnPeripheral(radio.createPeripheral({ id: "card" }), card, {
      crypto,
      onError: (e) => errors.push(e),
    });
    const central = radio.createCentral({ mtu });
    const connect = async () => {
      const client = await central.connect("card", { timeoutMs: 5000 });
      return new FramedLink(await openCentralFrameChannel(client, ACTIVE_CARD_PIPE), {
        role: "central",
        crypto,
      });
    };
    const phone = new ActiveCardPhone({ crypto, store: new MemoryPairedCardStore() });
    const keystore = SoftwareWalletKeystore.inMemory();
    const session = await phone.pair(await connect(), card.qrPayload(), "bob@example.com");
    const wallets = new CardWallets(session, { crypto, keystore });
    const { wallet, recoveryKit } = await wallets.createWallet({
      label: "BLE wallet",
      recovery: { passphrase: "correct horse battery", scrypt: { N: 1024, r: 8, p: 1 } },
    });
    const digest = crypto.randomBytes(32);
    expect(
      p256_FROST.verify(await wallets.sign(wallet.walletId, { digest }), digest, wallet.groupPublicKey),
    ).toBe(true);
    const recovery = await openRecoveryKit(crypto, recoveryKit!, { passphrase: "correct horse battery" });
    expect(
      p256_FROST.verify(await wallets.recover(recovery, { digest }), digest, wallet.groupPublicKey),
    ).toBe(true);
    const taproot = await wallets.createWallet({ ciphersuite: "secp256k1-taproot" });
    const signed = await wallets.sign(taproot.wallet.walletId, { digest });
    expect(schnorr.verify(signed, digest, taproot.wallet.groupPublicKey.subarray(1))).toBe(true);
    await session.close();
    expect(errors).toEqual([]);
    expect(lines.filter((l) => l.startsWith("signed:"))).toHaveLength(3);
    card.destroy();
  });
});
