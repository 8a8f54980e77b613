import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  randomBytes,
  scrypt,
  sign,
  verify,
} from "node:crypto";
import { concatBytes, expectLength } from "../bytes.ts";
import type { Crypto, P256Group, P256Point } from "../crypto/crypto.ts";
import { decodeDerSignature, encodeDerSignature, signatureToCompact } from "../crypto/ecdsa-der.ts";
import { nobleCrypto, nobleGroup } from "../crypto/noble-crypto.ts";
import { decodePoint, decodeScalar, encodeScalar, P256, P256_ORDER } from "../crypto/p256.ts";
import { AbortedError, DecryptionError, InvalidLengthError } from "../errors.ts";

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

// DER prefixes that turn raw P-256 keys into the SPKI / PKCS#8 structures node:crypto imports.
const SPKI_PREFIX = Uint8Array.from(
  Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"),
);
const PKCS8_PREFIX = Uint8Array.from(
  Buffer.from("3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420", "hex"),
);

function gcmAlgorithm(key: Uint8Array): "aes-128-gcm" | "aes-256-gcm" {
  if (key.length === 16) return "aes-128-gcm";
  if (key.length === 32) return "aes-256-gcm";
  throw new InvalidLengthError("AES-GCM key", "16 or 32", key.length);
}

/** x-coordinate of k·P computed natively; one OpenSSL ECDH. */
function nativeEcdhX(k: bigint, pointBytes: Uint8Array): Uint8Array {
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(encodeScalar(k));
  return u8(ecdh.computeSecret(pointBytes));
}

/**
 * Full-point scalar multiplication from node:crypto, which only exposes x-only ECDH.
 * Q = k·P: x(Q) from one ECDH, then y = ±sqrt(x³ − 3x + b); the sign is fixed by a second
 * ECDH with k+1, since x(Q + P) differs from x(−Q + P) for any P of odd (prime) order.
 * Falls back to noble for the two scalars where k+1 is 0 mod n.
 */
function nativeMul(k: bigint, P: P256Point): P256Point {
  const k1 = k + 1n;
  if (k1 >= P256_ORDER) return nobleGroup.mul(k, P);
  const pBytes = P.toBytes(false);
  const x = nativeEcdhX(k, pBytes);
  const xNext = nativeEcdhX(k1, pBytes);
  const candidate = P256.fromBytes(concatBytes(Uint8Array.of(0x02), x));
  const next = candidate.add(P).toBytes(true).subarray(1);
  return equalX(next, xNext) ? candidate : candidate.negate();
}

function equalX(a: Uint8Array, b: Uint8Array): boolean {
  // Public values (points derived for the transcript); ordinary comparison is fine.
  return Buffer.compare(a, b) === 0;
}

/** Group operations on OpenSSL's P-256 (constant-time nistz256 on x86-64). */
export const nodeGroup: P256Group = {
  mulBaseAdd(k, P) {
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(encodeScalar(k));
    return P256.fromBytes(u8(ecdh.getPublicKey())).add(P);
  },
  mul: nativeMul,
};

/**
 * The Node back-end: node:crypto (OpenSSL) for hashing, AEAD, scrypt, ECDSA and ECDH; noble
 * for AES-CMAC, which node:crypto does not expose.
 */
export const nodeCrypto: Crypto = {
  name: "node",

  randomBytes: (length) => u8(randomBytes(length)),
  sha256: (data) => u8(createHash("sha256").update(data).digest()),
  hmacSha256: (key, data) => u8(createHmac("sha256", key).update(data).digest()),
  hkdfSha256: (ikm, salt, info, length) => new Uint8Array(hkdfSync("sha256", ikm, salt, info, length)),

  aesGcmEncrypt(key, nonce, plaintext, aad) {
    expectLength(nonce, 12, "AES-GCM nonce");
    const cipher = createCipheriv(gcmAlgorithm(key), key, nonce);
    if (aad) cipher.setAAD(aad);
    return u8(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
  },

  aesGcmDecrypt(key, nonce, sealed, aad) {
    expectLength(nonce, 12, "AES-GCM nonce");
    const algorithm = gcmAlgorithm(key);
    if (sealed.length < 16) throw new DecryptionError();
    const decipher = createDecipheriv(algorithm, key, nonce);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    if (aad) decipher.setAAD(aad);
    try {
      return u8(Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]));
    } catch (cause) {
      throw new DecryptionError({ cause });
    }
  },

  aesCmac: nobleCrypto.aesCmac,

  scrypt(password, salt, params, dkLen, options) {
    const { signal, onProgress } = options ?? {};
    signal?.throwIfAborted();
    // node:crypto's default maxmem (32 MiB) is exactly 128·N·r for N=32768, r=8, which its
    // check rejects; allow twice the working set.
    const maxmem = 2 * 128 * params.N * params.r * (params.p + 1);
    return new Promise((resolve, reject) => {
      // Runs on libuv's thread pool: the event loop never blocks.
      scrypt(password, salt, dkLen, { ...params, maxmem }, (error, key) => {
        if (signal?.aborted) reject(new AbortedError({ cause: signal.reason }));
        else if (error) reject(error);
        else {
          onProgress?.(1);
          resolve(u8(key));
        }
      });
    });
  },

  generateKeyPair() {
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    return { privateKey: u8(ecdh.getPrivateKey()), publicKey: u8(ecdh.getPublicKey()) };
  },

  publicKeyOf(privateKey) {
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(encodeScalar(decodeScalar(privateKey, "private key")));
    return u8(ecdh.getPublicKey());
  },

  ecdh(privateKey, publicKey) {
    const k = decodeScalar(privateKey, "private key");
    decodePoint(publicKey, "ECDH public key");
    return nativeEcdhX(k, publicKey);
  },

  ecdsaSign(privateKey, message) {
    decodeScalar(privateKey, "private key");
    const key = createPrivateKey({
      key: Buffer.from(concatBytes(PKCS8_PREFIX, privateKey)),
      format: "der",
      type: "pkcs8",
    });
    // OpenSSL writes minimal DER and never normalises s, exactly like Go.
    const der = u8(sign("sha256", message, { key, dsaEncoding: "der" }));
    return encodeDerSignature(decodeDerSignature(der));
  },

  ecdsaVerify(publicKey, message, signature) {
    const compact = signatureToCompact(decodeDerSignature(signature));
    decodePoint(publicKey, "ECDSA public key");
    const key = createPublicKey({
      key: Buffer.from(concatBytes(SPKI_PREFIX, publicKey)),
      format: "der",
      type: "spki",
    });
    return verify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, compact);
  },

  group: nodeGroup,
};
