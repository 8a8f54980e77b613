import { cmac, gcm } from "@noble/ciphers/aes.js";
import { p256 } from "@noble/curves/nist.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes } from "@noble/hashes/utils.js";
import { expectLength } from "../bytes.ts";
import { AbortedError, DecryptionError, InvalidLengthError } from "../errors.ts";
import { checkHkdfLength, checkScryptArguments } from "./argument-checks.ts";
import type { Crypto, P256Group, P256KeyPair, ScryptOptions, ScryptParams } from "./crypto.ts";
import {
  decodeDerSignature,
  encodeDerSignature,
  signatureFromCompact,
  signatureToCompact,
} from "./ecdsa-der.ts";
import { decodePoint, decodeScalar, P256 } from "./p256.ts";

const GCM_NONCE_LENGTH = 12;

function expectAesKey(key: Uint8Array, what: string): void {
  if (key.length !== 16 && key.length !== 32) throw new InvalidLengthError(what, "16 or 32", key.length);
}

/** Scalar multiplication with noble: constant-time ladder, wNAF tables where a point has them. */
export const nobleGroup: P256Group = {
  mulBaseAdd: (k, P) => P256.BASE.multiply(k).add(P),
  mul: (k, P) => P.multiply(k),
  mulTwoBases: (k, P1, P2) => [P1.multiply(k), P2.multiply(k)],
  mulTwoScalars: (k1, k2, P) => [P.multiply(k1), P.multiply(k2)],
};

/**
 * The isomorphic back-end: pure JS on the audited noble libraries. Runs in browsers, React
 * Native and Node alike. scrypt yields to the event loop every few milliseconds.
 */
export const nobleCrypto: Crypto = {
  name: "noble",

  randomBytes: (length) => randomBytes(length),
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  hkdfSha256(ikm, salt, info, length) {
    checkHkdfLength(length);
    return hkdf(sha256, ikm, salt, info, length);
  },

  aesGcmEncrypt(key, nonce, plaintext, aad) {
    expectAesKey(key, "AES-GCM key");
    expectLength(nonce, GCM_NONCE_LENGTH, "AES-GCM nonce");
    return gcm(key, nonce, aad).encrypt(plaintext);
  },

  aesGcmDecrypt(key, nonce, sealed, aad) {
    expectAesKey(key, "AES-GCM key");
    expectLength(nonce, GCM_NONCE_LENGTH, "AES-GCM nonce");
    if (sealed.length < 16) throw new DecryptionError();
    try {
      return gcm(key, nonce, aad).decrypt(sealed);
    } catch (cause) {
      throw new DecryptionError({ cause });
    }
  },

  aesCmac(key, data) {
    expectAesKey(key, "AES-CMAC key");
    return cmac(data, key);
  },

  async scrypt(
    password: Uint8Array,
    salt: Uint8Array,
    params: ScryptParams,
    dkLen: number,
    options?: ScryptOptions,
  ) {
    checkScryptArguments(params, dkLen);
    const { signal, onProgress } = options ?? {};
    signal?.throwIfAborted();
    try {
      return await scryptAsync(password, salt, {
        ...params,
        dkLen,
        // Bounded blocking: at most ~10 ms per slice on the event loop.
        asyncTick: 10,
        onProgress: (fraction) => {
          // Throwing here is noble's documented way to abort; it wipes its buffers first.
          if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
          onProgress?.(fraction);
        },
      });
    } catch (error) {
      if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
      throw error;
    }
  },

  generateKeyPair(): P256KeyPair {
    const privateKey = p256.utils.randomSecretKey();
    return { privateKey, publicKey: p256.getPublicKey(privateKey, false) };
  },

  publicKeyOf(privateKey) {
    return P256.BASE.multiply(decodeScalar(privateKey, "private key")).toBytes(false);
  },

  ecdh(privateKey, publicKey) {
    const k = decodeScalar(privateKey, "private key");
    return decodePoint(publicKey, "ECDH public key").multiply(k).toBytes(true).subarray(1);
  },

  ecdsaSign(privateKey, message, publicKey) {
    decodeScalar(privateKey, "private key");
    // Unused for signing, but refused when malformed exactly as the Node back-end refuses it.
    if (publicKey) decodePoint(publicKey, "ECDSA signer public key");
    // Hedged nonces (RFC 6979 + fresh entropy); low-S is a valid subset of what Go accepts.
    const compact = p256.sign(message, privateKey, { lowS: false, extraEntropy: true });
    return encodeDerSignature(signatureFromCompact(compact));
  },

  ecdsaVerify(publicKey, message, signature) {
    const compact = signatureToCompact(decodeDerSignature(signature));
    decodePoint(publicKey, "ECDSA public key");
    return p256.verify(compact, message, publicKey, { lowS: false });
  },

  group: nobleGroup,
};
