import { ed25519 } from "@noble/curves/ed25519.js";
import { p256_FROST } from "@noble/curves/nist.js";
import { schnorr } from "@noble/curves/secp256k1.js";
import type { CiphersuiteName } from "./ciphersuite.ts";
import { MpcError } from "./errors.ts";
import type { WalletPublic } from "./wallet.ts";

/**
 * The chain-native encodings of an MPC wallet's public key and signatures (what a user pastes
 * into a wallet or a verifier), and the plain verifier a chain or relying party runs — not
 * FROST's. One place for the CLI, the demo, the web console and the benchmark.
 */
const CHAIN_FORMATS: Record<
  CiphersuiteName,
  { readonly publicKey: string; readonly publicKeyLength: number; readonly signatureLength: number }
> = {
  // BIP340: the x-only key (the FROST group key's parity byte dropped; the suite keeps Y even).
  "secp256k1-taproot": { publicKey: "BIP340 x-only", publicKeyLength: 32, signatureLength: 64 },
  ed25519: { publicKey: "Ed25519", publicKeyLength: 32, signatureLength: 64 },
  // SEC1 compressed; the signature is FROST(P-256, SHA-256)'s R ‖ z, checked by its verifier.
  p256: { publicKey: "SEC1 compressed", publicKeyLength: 33, signatureLength: 65 },
};

/** The wallet's group public key as its chain expects it. */
export function chainPublicKey(wallet: Pick<WalletPublic, "ciphersuite" | "groupPublicKey">): Uint8Array {
  return wallet.ciphersuite === "secp256k1-taproot"
    ? wallet.groupPublicKey.slice(1)
    : wallet.groupPublicKey.slice();
}

/** How {@link chainPublicKey} encodes keys of `suite`, e.g. "BIP340 x-only". */
export function chainPublicKeyFormat(suite: CiphersuiteName): string {
  return formatOf(suite).publicKey;
}

/**
 * Verifies `signature` over `message` (the signed bytes: a digest or a message) under a
 * chain-native public key with the suite's plain verifier. Wrong lengths are a typed
 * BAD_ENCODING; a well-formed signature that does not verify is `false`.
 */
export function verifyChainSignature(
  suite: CiphersuiteName,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const format = formatOf(suite);
  if (publicKey.length !== format.publicKeyLength) {
    throw new MpcError(
      "BAD_ENCODING",
      `a ${suite} public key (${format.publicKey}) has ${format.publicKeyLength} bytes, not ${publicKey.length}`,
    );
  }
  if (signature.length !== format.signatureLength) {
    throw new MpcError(
      "BAD_ENCODING",
      `a ${suite} signature has ${format.signatureLength} bytes, not ${signature.length}`,
    );
  }
  try {
    switch (suite) {
      case "secp256k1-taproot":
        return schnorr.verify(signature, message, publicKey);
      case "ed25519":
        return ed25519.verify(signature, message, publicKey);
      case "p256":
        return p256_FROST.verify(signature, message, publicKey);
    }
  } catch {
    // A point off the curve or a scalar out of range: a signature that does not verify.
    return false;
  }
}

function formatOf(suite: CiphersuiteName) {
  const format = CHAIN_FORMATS[suite];
  if (!format) throw new MpcError("BAD_ENCODING", `unknown ciphersuite ${String(suite)}`);
  return format;
}
