import {
  CardWallets,
  type CiphersuiteName,
  chainPublicKey,
  chainPublicKeyFormat,
  fromHex,
  MpcError,
  type SignPayload,
  SoftwareWalletKeystore,
  toHex,
  utf8,
  verifyChainSignature,
  type WalletPublic,
} from "@pairkit/core";
import { FileSecureElementVault, nodeCrypto } from "@pairkit/core/node";
import { ConfigError } from "@pairkit/server";
import { InvalidArgumentError } from "commander";
import { type CardPhoneOptions, reconnect, withPhone } from "./card-phone.ts";
import { EXIT } from "./exit-codes.ts";
import { secureElementSecret } from "./pair.ts";

/** The suites `--suite` takes: the SDK's names. */
export const WALLET_SUITES: readonly CiphersuiteName[] = ["p256", "secp256k1-taproot", "ed25519"];

export function parseSuite(value: string): CiphersuiteName {
  if (!(WALLET_SUITES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`one of ${WALLET_SUITES.join(", ")}`);
  return value as CiphersuiteName;
}

export function parseHex(value: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(value)) throw new InvalidArgumentError("not hex bytes");
  return fromHex(value.toLowerCase());
}

/** What to sign or check: `--message TEXT` (its UTF-8 bytes) or `--digest HEX` (32 bytes). */
export interface PayloadOptions {
  readonly message?: string;
  readonly digest?: Uint8Array;
}

export interface WalletCreateOptions extends CardPhoneOptions {
  readonly card: string;
  readonly suite: CiphersuiteName;
  readonly label: string;
}

export interface WalletSignOptions extends CardPhoneOptions, PayloadOptions {
  readonly wallet: Uint8Array;
}

export interface WalletVerifyOptions extends PayloadOptions {
  readonly suite: CiphersuiteName;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * The phone's wallet shares sit next to its paired cards: `<store>.wallets`, encrypted at rest
 * by the same vault and secret as the store (`PAIRKIT_SE_PASSPHRASE` or `<store>.key`).
 */
async function openKeystore(o: Pick<CardPhoneOptions, "store">, env: NodeJS.ProcessEnv) {
  const vault = new FileSecureElementVault(
    `${o.store}.wallets`,
    nodeCrypto,
    await secureElementSecret(o.store, env),
  );
  return { keystore: await SoftwareWalletKeystore.open(vault), vault };
}

function describeWallet(wallet: WalletPublic): string {
  return [
    `wallet ${toHex(wallet.walletId)} (${wallet.ciphersuite}, ${wallet.minSigners}-of-${wallet.maxSigners}${wallet.label ? `, "${wallet.label}"` : ""})`,
    `public key (${chainPublicKeyFormat(wallet.ciphersuite)}): ${toHex(chainPublicKey(wallet))}`,
  ].join("\n");
}

/** `pairkit wallet create`: a 2-of-2 FROST wallet with a paired card (docs/protocol.md §4.11.3). */
export async function runWalletCreate(
  o: WalletCreateOptions,
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
): Promise<number> {
  const { keystore, vault } = await openKeystore(o, env);
  try {
    return await withPhone(o, env, out, async (phone, central, store) => {
      const session = await reconnect(phone, central, store, o.card);
      try {
        const wallets = new CardWallets(session, { crypto: nodeCrypto, keystore });
        const { wallet } = await wallets.createWallet({ ciphersuite: o.suite, label: o.label });
        out.write(
          `${describeWallet(wallet)}\nthe card and this phone each keep a share; kept in ${o.store}.wallets\n`,
        );
      } finally {
        await session.close();
      }
    });
  } finally {
    vault.destroy();
  }
}

/** `pairkit wallet sign`: co-signs with the wallet's card and prints the verified signature. */
export async function runWalletSign(
  o: WalletSignOptions,
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
): Promise<number> {
  const payload = payloadOf(o);
  const { keystore, vault } = await openKeystore(o, env);
  try {
    const held = (await keystore.list()).find((w) => toHex(w.wallet.walletId) === toHex(o.wallet));
    if (!held) throw new MpcError("UNKNOWN_WALLET", `this phone holds no share of wallet ${toHex(o.wallet)}`);
    return await withPhone(o, env, out, async (phone, central, store) => {
      const session = await reconnect(phone, central, store, held.deviceId);
      try {
        const signature = await new CardWallets(session, { crypto: nodeCrypto, keystore }).sign(
          o.wallet,
          payload,
        );
        out.write(`${describeWallet(held.wallet)}\nsignature: ${toHex(signature)}\n`);
      } finally {
        await session.close();
      }
    });
  } finally {
    vault.destroy();
  }
}

/** `pairkit wallet list`: the wallets this phone holds a share of, with their public keys. */
export async function runWalletList(
  o: Pick<CardPhoneOptions, "store">,
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
): Promise<number> {
  const { keystore, vault } = await openKeystore(o, env);
  try {
    const held = await keystore.list();
    if (held.length === 0) out.write("no wallets\n");
    for (const w of held) {
      out.write(
        `${describeWallet(w.wallet)}\ncard ${w.deviceId}, created ${new Date(w.createdAt).toISOString()}\n`,
      );
    }
    return EXIT.OK;
  } finally {
    vault.destroy();
  }
}

/**
 * `pairkit wallet verify`: checks a signature offline with the suite's plain verifier (BIP340,
 * Ed25519, FROST(P-256)), no card and no pairkit state. Exit 0 valid, 1 invalid, 2 malformed.
 */
export function runWalletVerify(o: WalletVerifyOptions, out: NodeJS.WritableStream): number {
  const payload = payloadOf(o);
  const signed = "digest" in payload ? payload.digest : payload.message;
  let valid: boolean;
  try {
    valid = verifyChainSignature(o.suite, o.publicKey, signed, o.signature);
  } catch (error) {
    if (error instanceof MpcError) throw new ConfigError("--public-key/--signature", error.message);
    throw error;
  }
  out.write(valid ? "valid\n" : "invalid: the signature does not verify under this key\n");
  return valid ? EXIT.OK : EXIT.FAILURE;
}

function payloadOf(o: PayloadOptions): SignPayload {
  if ((o.message === undefined) === (o.digest === undefined))
    throw new ConfigError("--message/--digest", "give exactly one of them");
  if (o.digest) {
    if (o.digest.length !== 32) throw new ConfigError("--digest", "a digest is 32 bytes");
    return { digest: o.digest };
  }
  return { message: utf8(o.message!) };
}
