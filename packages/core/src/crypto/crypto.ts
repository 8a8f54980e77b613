import type { WeierstrassPoint } from "@noble/curves/abstract/weierstrass.js";

/** A P-256 point in noble's representation; protocol code does point arithmetic with it. */
export type P256Point = WeierstrassPoint<bigint>;

export interface ScryptParams {
  /** CPU/memory cost, a power of two (default 32768). */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export interface ScryptOptions {
  /** Called with the completed fraction in [0, 1]; back-ends that cannot report call it at 1. */
  readonly onProgress?: (fraction: number) => void;
  readonly signal?: AbortSignal;
}

/** A P-256 key pair: 32-byte big-endian private scalar and 65-byte SEC1 uncompressed public key. */
export interface P256KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/**
 * The one crypto interface protocol code uses. Two back-ends implement it: `nobleCrypto`
 * (isomorphic, pure JS, audited noble libraries) and `nodeCrypto` (node:crypto where it is
 * faster, noble elsewhere). Protocol code never imports a crypto library directly.
 *
 * Primitives are synchronous because both back-ends are; only scrypt, which takes
 * ~100 ms–1 s, is asynchronous so that it never stalls an event loop.
 */
export interface Crypto {
  readonly name: string;

  /** CSPRNG bytes. */
  randomBytes(length: number): Uint8Array;

  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /**
   * RFC 5869 HKDF-SHA256; an empty salt means HashLen zero bytes, as the RFC says. `length` is an
   * integer in 1..8160 (`InvalidLengthError` otherwise).
   */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;

  /** AES-GCM with a 12-byte nonce; returns ciphertext ‖ 16-byte tag. Key: 16 or 32 bytes. */
  aesGcmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /** Inverse of {@link aesGcmEncrypt}; throws `DecryptionError` on any authentication failure. */
  aesGcmDecrypt(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array;
  /** RFC 4493 AES-CMAC (16-byte tag); key 16 or 32 bytes. */
  aesCmac(key: Uint8Array, data: Uint8Array): Uint8Array;

  /**
   * RFC 7914 scrypt. Parameters that break RFC 7914, need over 1 GiB, or a dkLen outside 1..1024
   * reject with `InvalidScryptParamsError`.
   */
  scrypt(
    password: Uint8Array,
    salt: Uint8Array,
    params: ScryptParams,
    dkLen: number,
    options?: ScryptOptions,
  ): Promise<Uint8Array>;

  /** Fresh P-256 key pair. */
  generateKeyPair(): P256KeyPair;
  /** SEC1 uncompressed public key of a private key; throws `InvalidScalarError`. */
  publicKeyOf(privateKey: Uint8Array): Uint8Array;
  /** ECDH: the 32-byte x-coordinate of privateKey·publicKey; the peer key is validated. */
  ecdh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /**
   * ECDSA P-256 over SHA-256(message), DER-encoded like Go's `ecdsa.SignASN1`.
   *
   * `publicKey` is the signer's own public key, for callers that hold it: it spares a
   * back-end that needs the whole key pair (node:crypto) deriving it, a fixed-base
   * multiplication per signature. It is checked to be a P-256 point (`InvalidPointError`)
   * but not to match `privateKey`: that check would cost the very multiplication it saves.
   * It cannot matter to the result, since the signature is computed from `privateKey` alone:
   * a wrong public key yields the signer's genuine signature, which verifies under the
   * signer's real key and never under the wrong one (tested for both back-ends).
   */
  ecdsaSign(privateKey: Uint8Array, message: Uint8Array, publicKey?: Uint8Array): Uint8Array;
  /**
   * Verifies a DER ECDSA P-256/SHA-256 signature like Go's `ecdsa.VerifyASN1`: high-S accepted,
   * DER parsed strictly. Returns false for a wrong signature; throws `SignatureEncodingError`
   * for a malformed one and `InvalidPointError` for a bad public key.
   */
  ecdsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;

  /** The scalar multiplications SPAKE2+ needs, with full (x, y) results. */
  readonly group: P256Group;
}

/**
 * Scalar multiplication on P-256 returning full points. SPAKE2+ spends nearly all its time
 * here, so each back-end implements it its own way; additions stay in protocol code.
 * Scalars are in [1, n-1] (callers check).
 */
export interface P256Group {
  /** k·G + P. */
  mulBaseAdd(k: bigint, P: P256Point): P256Point;
  /** k·P. */
  mul(k: bigint, P: P256Point): P256Point;
  /** [k·P1, k·P2]: one scalar, two bases (SPAKE2+ w0·M and w0·N; the verifier's Z and V). */
  mulTwoBases(k: bigint, P1: P256Point, P2: P256Point): [P256Point, P256Point];
  /** [k1·P, k2·P]: two scalars, one base (the prover's Z and V). */
  mulTwoScalars(k1: bigint, k2: bigint, P: P256Point): [P256Point, P256Point];
}
