import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  ECDH,
  type KeyObject,
  type JsonWebKey as NodeJsonWebKey,
  randomBytes,
  scrypt,
  sign,
  verify,
} from "node:crypto";
import { normalizeZ } from "@noble/curves/abstract/curve.js";
import { bytesToBigint, concatBytes, expectLength } from "../bytes.ts";
import { checkHkdfLength, checkScryptArguments } from "../crypto/argument-checks.ts";
import type { Crypto, P256Group, P256Point } from "../crypto/crypto.ts";
import { decodeDerSignature } from "../crypto/ecdsa-der.ts";
import { nobleCrypto, nobleGroup } from "../crypto/noble-crypto.ts";
import { decodeScalar, encodeScalar, P256, P256_ORDER, POINT_LENGTH } from "../crypto/p256.ts";
import { AbortedError, DecryptionError, InvalidLengthError, InvalidPointError } from "../errors.ts";

const Fp = P256.Fp;
const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

/**
 * Raw P-256 keys as the JWK node:crypto imports. Importing DER (SPKI / PKCS#8) goes through
 * OpenSSL 3's decoder search, which costs several times the signature itself; a JWK import
 * does not (measured in bench/src/card.ts).
 */
const verifyingKeys = new Map<string, KeyObject>();
const VERIFYING_KEY_CACHE_SIZE = 64;

/**
 * Public keys are verified against again and again (a peer's identity key, twice per Active
 * Card handshake and once per session), so their imported form is kept, a bounded number
 * of them, oldest dropped first. Public data only: private keys are never cached.
 */
function verifyingKey(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString("hex");
  let key = verifyingKeys.get(id);
  if (!key) {
    key = natively("ECDSA public key", publicKey, () =>
      createPublicKey({ key: p256Jwk(publicKey), format: "jwk" }),
    );
    if (verifyingKeys.size >= VERIFYING_KEY_CACHE_SIZE)
      verifyingKeys.delete(verifyingKeys.keys().next().value!);
    verifyingKeys.set(id, key);
  }
  return key;
}

/**
 * A private key imported for one signature. Not cached: a cached KeyObject would keep the
 * secret in native memory after the caller wipes its buffer, defeating `destroy()`.
 */
function signingKey(privateKey: Uint8Array, publicKey: Uint8Array | undefined): KeyObject {
  const k = decodeScalar(privateKey, "private key");
  const d = base64url(privateKey, 0, privateKey.length);
  // JWK is the cheapest import node:crypto offers for a raw scalar, and it needs the public
  // point: the caller's when it has it (OpenSSL checks that one like a peer's), else derived
  // by a fixed-base multiplication.
  if (publicKey) {
    return natively("ECDSA signer public key", publicKey, () =>
      createPrivateKey({ key: { ...p256Jwk(publicKey), d }, format: "jwk" }),
    );
  }
  return createPrivateKey({ key: { ...p256Jwk(u8(ecdhWith(k).getPublicKey())), d }, format: "jwk" });
}

function p256Jwk(publicKey: Uint8Array): NodeJsonWebKey {
  return { kty: "EC", crv: "P-256", x: base64url(publicKey, 1, 33), y: base64url(publicKey, 33, 65) };
}

/** JWK coordinates and scalar: base64url of a byte range, encoded natively without a copy. */
function base64url(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("base64url");
}

/**
 * Runs a node:crypto call on an uncompressed peer point, which OpenSSL decodes and checks
 * itself (coordinates below p, on the curve) on its way in: checking it in JS first would do
 * the same work twice. Only the encoding is checked here, and OpenSSL's refusal is typed.
 */
function natively<T>(what: string, point: Uint8Array, use: () => T): T {
  expectLength(point, POINT_LENGTH, what);
  if (point[0] !== 0x04) throw new InvalidPointError(what);
  try {
    return use();
  } catch (cause) {
    throw new InvalidPointError(what, { cause });
  }
}

function gcmAlgorithm(key: Uint8Array): "aes-128-gcm" | "aes-256-gcm" {
  if (key.length === 16) return "aes-128-gcm";
  if (key.length === 32) return "aes-256-gcm";
  throw new InvalidLengthError("AES-GCM key", "16 or 32", key.length);
}

/** An OpenSSL ECDH context holding scalar k (setting it costs one fast fixed-base multiplication). */
function ecdhWith(k: bigint): ECDH {
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(encodeScalar(k));
  return ecdh;
}

function xOf(ecdh: ECDH, point: P256Point): bigint {
  return bytesToBigint(ecdh.computeSecret(point.toBytes(false)));
}

/** One of ±(x, y): OpenSSL decompresses 02‖x natively, far faster than a JS square root. */
function liftX(x: bigint): P256Point {
  const compressed = concatBytes(Uint8Array.of(0x02), encodeScalar(x));
  return P256.fromBytes(
    u8(ECDH.convertKey(compressed, "prime256v1", undefined, undefined, "uncompressed") as Buffer),
  );
}

/** x(P) = X/Z in noble's homogeneous coordinates: compared without an inversion. */
function hasX(P: P256Point, x: bigint): boolean {
  return !P.is0() && Fp.eql(P.X, Fp.mul(x, P.Z));
}

/**
 * node:crypto only exposes x-only ECDH, so full points are recovered: x(Q) from an ECDH, ±Q by
 * native decompression, and the sign from one more ECDH on a known anchor. For two products
 * at once, a single extra ECDH fixes both signs: of the four candidates ±Q1 ±Q2 + A, only the
 * true one has the anchor ECDH's x-coordinate. Two candidates can share an x-coordinate only
 * if Q1 = ±Q2, Q1 = ±A or Q2 = ±A (points of odd order: S + A = ±(S' + A) forces S = S' or
 * S + S' = −2A); outside those cases the first match is the answer, and in them — negligible
 * for honest inputs — the caller falls back to one anchor per point.
 */
function resolveSigns(
  q1: P256Point,
  q2: P256Point,
  anchor: P256Point,
  anchorX: bigint,
): [P256Point, P256Point] | undefined {
  const a = anchor.toAffine().x;
  if (q1.x === q2.x || q1.x === a || q2.x === a) return undefined;
  const sum = q1.add(q2);
  if (hasX(sum.add(anchor), anchorX)) return [q1, q2];
  if (hasX(anchor.subtract(sum), anchorX)) return [q1.negate(), q2.negate()];
  const difference = q1.subtract(q2);
  if (hasX(difference.add(anchor), anchorX)) return [q1, q2.negate()];
  if (hasX(anchor.subtract(difference), anchorX)) return [q1.negate(), q2];
  return undefined;
}

/** P1 + P2, remembered for fixed pairs (SPAKE2+'s M and N) so it is computed and normalised once. */
const anchors = new WeakMap<P256Point, WeakMap<P256Point, P256Point>>();
function anchorFor(P1: P256Point, P2: P256Point): P256Point {
  const byP2 = anchors.get(P1) ?? new WeakMap<P256Point, P256Point>();
  anchors.set(P1, byP2);
  const sum = byP2.get(P2) ?? P1.add(P2);
  byP2.set(P2, sum);
  return sum;
}

/** k·P with one anchor: x((k+1)·P) = x(Q + P) tells Q from −Q (P has odd prime order). */
function nativeMul(k: bigint, P: P256Point): P256Point {
  if (k + 1n >= P256_ORDER) return nobleGroup.mul(k, P);
  const q = liftX(xOf(ecdhWith(k), P));
  return hasX(q.add(P), xOf(ecdhWith(k + 1n), P)) ? q : q.negate();
}

/** Group operations on OpenSSL's P-256 (constant-time nistz256 on x86-64). */
export const nodeGroup: P256Group = {
  mulBaseAdd(k, P) {
    return P256.fromBytes(u8(ecdhWith(k).getPublicKey())).add(P);
  },

  mul: nativeMul,

  mulTwoBases(k, P1, P2) {
    // Anchor: (k+1)·(P1 + P2) = Q1 + Q2 + (P1 + P2).
    const sum = anchorFor(P1, P2);
    if (k + 1n < P256_ORDER && !sum.is0()) {
      // One field inversion for all three affine encodings instead of one each.
      const [a1, a2, anchor] = normalizeZ(P256, [P1, P2, sum]) as [P256Point, P256Point, P256Point];
      const ecdh = ecdhWith(k);
      const q1 = liftX(xOf(ecdh, a1));
      const q2 = liftX(xOf(ecdh, a2));
      const resolved = resolveSigns(q1, q2, anchor, xOf(ecdhWith(k + 1n), anchor));
      if (resolved) return resolved;
    }
    return [nativeMul(k, P1), nativeMul(k, P2)];
  },

  mulTwoScalars(k1, k2, P) {
    // Anchor: (k1+k2+1)·P = Q1 + Q2 + P.
    const kSum = (k1 + k2 + 1n) % P256_ORDER;
    if (kSum !== 0n) {
      const q1 = liftX(xOf(ecdhWith(k1), P));
      const q2 = liftX(xOf(ecdhWith(k2), P));
      const resolved = resolveSigns(q1, q2, P, xOf(ecdhWith(kSum), P));
      if (resolved) return resolved;
    }
    return [nativeMul(k1, P), nativeMul(k2, P)];
  },
};

/**
 * RFC 5869 HKDF-SHA256 from node:crypto HMACs. node's own hkdfSync builds a KeyObject per call,
 * which costs more than the two or three HMACs SPAKE2+ and the session keys need.
 */
function hkdfWithHmac(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  checkHkdfLength(length);
  const prk = createHmac("sha256", salt.length > 0 ? salt : new Uint8Array(32))
    .update(ikm)
    .digest();
  const out = new Uint8Array(length);
  let block: Uint8Array = new Uint8Array(0);
  for (let i = 0, offset = 0; offset < length; i++) {
    block = createHmac("sha256", prk)
      .update(block)
      .update(info)
      .update(Uint8Array.of(i + 1))
      .digest();
    out.set(block.subarray(0, length - offset), offset);
    offset += block.length;
  }
  prk.fill(0);
  return out;
}

/**
 * The Node back-end: node:crypto (OpenSSL) for hashing, AEAD, scrypt, ECDSA and ECDH; noble
 * for AES-CMAC, which node:crypto does not expose.
 */
export const nodeCrypto: Crypto = {
  name: "node",

  randomBytes: (length) => u8(randomBytes(length)),
  sha256: (data) => u8(createHash("sha256").update(data).digest()),
  hmacSha256: (key, data) => u8(createHmac("sha256", key).update(data).digest()),
  hkdfSha256: hkdfWithHmac,

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

  async scrypt(password, salt, params, dkLen, options) {
    checkScryptArguments(params, dkLen);
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
    // generateKeys() already returns the encoded public key; asking again would encode it twice.
    const publicKey = u8(ecdh.generateKeys());
    // OpenSSL drops leading zero bytes of the scalar; keys are always 32 bytes here.
    const privateKey = new Uint8Array(32);
    const raw = ecdh.getPrivateKey();
    privateKey.set(raw, 32 - raw.length);
    raw.fill(0);
    return { privateKey, publicKey };
  },

  publicKeyOf(privateKey) {
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(encodeScalar(decodeScalar(privateKey, "private key")));
    return u8(ecdh.getPublicKey());
  },

  ecdh(privateKey, publicKey) {
    decodeScalar(privateKey, "private key");
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(privateKey);
    return u8(natively("ECDH public key", publicKey, () => ecdh.computeSecret(publicKey)));
  },

  ecdsaSign(privateKey, message, publicKey) {
    const key = signingKey(privateKey, publicKey);
    // OpenSSL writes minimal DER and never normalises s, exactly like Go: no re-encoding. It
    // signs with d alone, never reading the public half (see Crypto.ecdsaSign).
    return u8(sign("sha256", message, { key, dsaEncoding: "der" }));
  },

  ecdsaVerify(publicKey, message, signature) {
    // Strictly parsed here (typed errors, Go's rules); what passes is minimal DER, which
    // OpenSSL reads to the same r and s, so the bytes go to it as they came.
    decodeDerSignature(signature);
    const key = verifyingKey(publicKey);
    return verify("sha256", message, { key, dsaEncoding: "der" }, signature);
  },

  group: nodeGroup,
};
