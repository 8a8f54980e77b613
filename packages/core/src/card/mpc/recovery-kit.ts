import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { concatBytes, constantTimeEqual, utf8, wipe } from "../../bytes.ts";
import type { Crypto, ScryptParams } from "../../crypto/crypto.ts";
import { decodePoint } from "../../crypto/p256.ts";
import { checkScryptParams, DEFAULT_SCRYPT_PARAMS, SALT_LENGTH } from "../../crypto/password.ts";
import { DecryptionError } from "../../errors.ts";
import {
  type MpcRecoveryKitHeader,
  MpcRecoveryKitHeaderSchema,
  MpcRecoveryKitSchema,
  MpcRecoveryScryptSchema,
} from "../gen/pairkit/activecard/v1/active_card_pb.ts";
import { ciphersuiteById, ciphersuiteByName, frostCall, identifierOf, Participant } from "./ciphersuite.ts";
import { MpcError } from "./errors.ts";
import { frostPublicOf, MPC_ID_LENGTH, type WalletPublic } from "./wallet.ts";

/** How the recovery share is sealed: a passphrase (scrypt) or a P-256 recovery public key (ECIES). */
export type RecoveryProtection =
  | { readonly passphrase: string; readonly scrypt?: ScryptParams }
  | { readonly recoveryPublicKey: Uint8Array };

/** What opens a recovery kit: the passphrase, or the recovery private key. */
export type RecoverySecret = { readonly passphrase: string } | { readonly recoveryPrivateKey: Uint8Array };

/** The recovery participant's (3) share of a 2-of-3 wallet, opened. Wipe `signingShare` after use. */
export interface RecoveryShare {
  readonly wallet: WalletPublic;
  readonly signingShare: Uint8Array;
}

const KIT_VERSION = 1;
const NONCE_LENGTH = 12;
const ECIES_INFO = "pairkit/mpc/recovery/v1";
/** Smallest passphrase accepted for a kit; the kit is offline-attackable, so scrypt does the rest. */
const MIN_PASSPHRASE_LENGTH = 8;

/** Checks a protection before anything depends on it (createWallet checks it before the DKG). */
export function checkRecoveryProtection(protection: RecoveryProtection): void {
  if ("passphrase" in protection) {
    if (protection.passphrase.length < MIN_PASSPHRASE_LENGTH) {
      throw new MpcError(
        "BAD_OPTIONS",
        `recovery passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`,
      );
    }
    checkScryptParams(protection.scrypt ?? DEFAULT_SCRYPT_PARAMS);
  } else {
    try {
      decodePoint(protection.recoveryPublicKey, "recovery public key");
    } catch (cause) {
      throw new MpcError("BAD_OPTIONS", "recovery public key is not a P-256 public key", { cause });
    }
  }
}

/**
 * Seals the recovery share of a 2-of-3 wallet into a recovery kit (docs §4.11.7): an
 * `MpcRecoveryKit` whose share is AES-256-GCM encrypted under a key from scrypt (passphrase)
 * or from ECDH with the recovery public key, with the serialized header (wallet, protection,
 * nonce) as AAD, so no field can be swapped. The kit holds no other secret.
 */
export async function exportRecovery(
  crypto: Crypto,
  share: RecoveryShare,
  protection: RecoveryProtection,
): Promise<Uint8Array> {
  checkRecoveryProtection(protection);
  const { wallet } = share;
  const header = create(MpcRecoveryKitHeaderSchema, {
    version: KIT_VERSION,
    walletId: wallet.walletId,
    ciphersuite: ciphersuiteByName(wallet.ciphersuite).id,
    groupPublicKey: wallet.groupPublicKey,
    verifyingShares: [...wallet.verifyingShares],
    commitment: [...wallet.commitment],
    label: wallet.label,
    nonce: crypto.randomBytes(NONCE_LENGTH),
  });
  let key: Uint8Array;
  if ("passphrase" in protection) {
    const params = protection.scrypt ?? DEFAULT_SCRYPT_PARAMS;
    const salt = crypto.randomBytes(SALT_LENGTH);
    header.protection = {
      case: "scrypt",
      value: create(MpcRecoveryScryptSchema, { salt, log2N: Math.log2(params.N), r: params.r, p: params.p }),
    };
    key = await crypto.scrypt(utf8(protection.passphrase), salt, params, 32);
  } else {
    const ephemeral = crypto.generateKeyPair();
    header.protection = { case: "recoveryPublicKey", value: protection.recoveryPublicKey.slice() };
    header.ephemeralPublicKey = ephemeral.publicKey;
    key = eciesKey(crypto, ephemeral.privateKey, protection.recoveryPublicKey, {
      ephemeralPublicKey: ephemeral.publicKey,
      recoveryPublicKey: protection.recoveryPublicKey,
    });
    wipe(ephemeral.privateKey);
  }
  const headerBytes = toBinary(MpcRecoveryKitHeaderSchema, header);
  try {
    const sealedShare = crypto.aesGcmEncrypt(key, header.nonce, share.signingShare, headerBytes);
    return toBinary(MpcRecoveryKitSchema, create(MpcRecoveryKitSchema, { header: headerBytes, sealedShare }));
  } finally {
    wipe(key);
  }
}

/**
 * Opens a recovery kit and checks the share against the wallet's public commitment.
 * RECOVERY_KIT_MALFORMED for anything that is not a version 1 kit, RECOVERY_KIT_LOCKED for a
 * wrong passphrase or key (or a tampered kit: the two cannot be told apart).
 */
export async function openRecoveryKit(
  crypto: Crypto,
  bytes: Uint8Array,
  secret: RecoverySecret,
): Promise<RecoveryShare> {
  const { header, headerBytes, sealedShare } = parseKit(bytes);
  const wallet = walletOfKit(header);
  let key: Uint8Array;
  if (header.protection.case === "scrypt" && "passphrase" in secret) {
    const { salt, log2N, r, p } = header.protection.value;
    if (salt.length !== SALT_LENGTH || log2N < 1 || log2N > 30) malformedKit("scrypt parameters");
    let params: ScryptParams;
    try {
      params = checkScryptParams({ N: 2 ** log2N, r, p });
    } catch (cause) {
      throw new MpcError("RECOVERY_KIT_MALFORMED", "recovery kit: scrypt parameters out of range", { cause });
    }
    key = await crypto.scrypt(utf8(secret.passphrase), salt, params, 32);
  } else if (header.protection.case === "recoveryPublicKey" && "recoveryPrivateKey" in secret) {
    key = eciesKey(crypto, secret.recoveryPrivateKey, header.ephemeralPublicKey, {
      ephemeralPublicKey: header.ephemeralPublicKey,
      recoveryPublicKey: header.protection.value,
    });
  } else {
    throw new MpcError("RECOVERY_KIT_LOCKED", "the kit is sealed the other way (passphrase vs recovery key)");
  }
  let signingShare: Uint8Array;
  try {
    signingShare = crypto.aesGcmDecrypt(key, header.nonce, sealedShare, headerBytes);
  } catch (cause) {
    if (!(cause instanceof DecryptionError)) throw cause;
    throw new MpcError("RECOVERY_KIT_LOCKED", "wrong passphrase or recovery key, or the kit was altered", {
      cause,
    });
  } finally {
    wipe(key);
  }
  const suite = ciphersuiteByName(wallet.ciphersuite);
  frostCall("RECOVERY_KIT_MALFORMED", "recovery share", () =>
    suite.frost.validateSecret(
      { identifier: identifierOf(suite, Participant.recovery), signingShare },
      frostPublicOf(wallet),
    ),
  );
  return { wallet, signingShare };
}

function malformedKit(why: string): never {
  throw new MpcError("RECOVERY_KIT_MALFORMED", `recovery kit: ${why}`);
}

function parseKit(bytes: Uint8Array): {
  header: MpcRecoveryKitHeader;
  headerBytes: Uint8Array;
  sealedShare: Uint8Array;
} {
  try {
    const kit = fromBinary(MpcRecoveryKitSchema, bytes, { readUnknownFields: false });
    // One encoding per kit: protobuf-es accepts some non-canonical framing (a tag's wire type),
    // which would let a changed kit open to the same share.
    if (!constantTimeEqual(toBinary(MpcRecoveryKitSchema, kit), bytes))
      malformedKit("not canonically encoded");
    const header = fromBinary(MpcRecoveryKitHeaderSchema, kit.header, { readUnknownFields: false });
    if (header.version !== KIT_VERSION) malformedKit(`version ${header.version}`);
    if (header.nonce.length !== NONCE_LENGTH) malformedKit("nonce length");
    return { header, headerBytes: kit.header, sealedShare: kit.sealedShare };
  } catch (cause) {
    if (cause instanceof MpcError) throw cause;
    throw new MpcError("RECOVERY_KIT_MALFORMED", "recovery kit is not valid protobuf", { cause });
  }
}

function walletOfKit(kit: MpcRecoveryKitHeader): WalletPublic {
  let suite: ReturnType<typeof ciphersuiteById>;
  try {
    suite = ciphersuiteById(kit.ciphersuite);
  } catch (cause) {
    throw new MpcError("RECOVERY_KIT_MALFORMED", "recovery kit: unknown ciphersuite", { cause });
  }
  const points = [kit.groupPublicKey, ...kit.commitment, ...kit.verifyingShares];
  if (
    kit.walletId.length !== MPC_ID_LENGTH ||
    kit.verifyingShares.length !== 3 ||
    kit.commitment.length !== 2 ||
    points.some((p) => p.length !== suite.pointLength)
  ) {
    malformedKit("wallet fields");
  }
  return {
    walletId: kit.walletId,
    ciphersuite: suite.name,
    minSigners: 2,
    maxSigners: 3,
    label: kit.label,
    groupPublicKey: kit.groupPublicKey,
    commitment: kit.commitment,
    verifyingShares: kit.verifyingShares,
  };
}

/**
 * ECIES key: HKDF-SHA256(ikm = ECDH x-coordinate, salt = ephemeral public key,
 * info = "pairkit/mpc/recovery/v1" ‖ recovery public key, 32). Sealing passes the ephemeral
 * private key and the recovery public key; opening the recovery private key and the
 * ephemeral public key; both reach the same x-coordinate.
 */
function eciesKey(
  crypto: Crypto,
  privateKey: Uint8Array,
  peerPublicKey: Uint8Array,
  names: { ephemeralPublicKey: Uint8Array; recoveryPublicKey: Uint8Array },
): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = crypto.ecdh(privateKey, peerPublicKey);
  } catch (cause) {
    throw new MpcError("RECOVERY_KIT_MALFORMED", "recovery kit: bad ECIES key", { cause });
  }
  try {
    const info = concatBytes(utf8(ECIES_INFO), names.recoveryPublicKey);
    return crypto.hkdfSha256(shared, names.ephemeralPublicKey, info, 32);
  } finally {
    wipe(shared);
  }
}
