import { concatBytes, constantTimeEqual, expectLength, u64le, utf8, wipe } from "../bytes.ts";
import { ConfirmationError, PairkitError } from "../errors.ts";
import type { Crypto, P256Point } from "./crypto.ts";
import { checkScalar, decodePoint, encodePoint, encodeScalar, P256, P256_ORDER } from "./p256.ts";
import type { PasswordScalars, PasswordVerifier } from "./password.ts";

/**
 * SPAKE2+ on P-256 (RFC 9383) in two profiles:
 *
 * - `rfc9383`: exactly the RFC's P256-SHA256-HKDF-SHA256-HMAC-SHA256 suite — transcript with
 *   Context, identities, M and N; 32-byte HMAC confirmations. Owner pairing over BLE uses it.
 * - `ccc`: the CCC Digital Key variant as public reimplementations describe it — transcript of
 *   X, Y, Z, V, w0 only; K = SHA-256(TT) split into CK ‖ SK; 16-byte AES-CMAC confirmations
 *   keyed from HKDF(CK, "ConfirmationKeys" ‖ version TLVs). Not checked against the
 *   (non-public) CCC specification, only against an independent reimplementation's vectors.
 *
 * Prover = phone (knows w0, w1), verifier = vehicle (knows w0 and L = w1·G).
 */
export type Spake2PlusProfile = "rfc9383" | "ccc";

/** RFC 9383 §4 M and N for P-256 (SEC1 compressed), shared by both profiles. */
const M = P256.fromHex("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f");
const N = P256.fromHex("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49");
// Fixed-base tables make w0·M and w0·N as cheap as w0·G in the noble back-end.
M.precompute(8, false);
N.precompute(8, false);
const M_BYTES = encodePoint(M);
const N_BYTES = encodePoint(N);

/** The version TLVs of the public CCC reimplementation's vectors: selected 0x0101, supported 0x0101, 0x0100. */
export const CCC_DEFAULT_VERSION_INFO = Uint8Array.of(
  0x5b,
  0x02,
  0x01,
  0x01,
  0x5c,
  0x04,
  0x01,
  0x01,
  0x01,
  0x00,
);

export interface Spake2PlusParams {
  readonly profile: Spake2PlusProfile;
  /** rfc9383: the Context string binding the negotiation. Ignored by `ccc`. */
  readonly context?: Uint8Array;
  /** rfc9383: identities (may be empty). Ignored by `ccc`. */
  readonly idProver?: Uint8Array;
  readonly idVerifier?: Uint8Array;
  /** ccc: the version TLVs appended to "ConfirmationKeys". */
  readonly versionInfo?: Uint8Array;
}

/** Everything derived from the transcript; exposed so tests can check each value. */
export interface Spake2PlusKeySchedule {
  readonly transcript: Uint8Array;
  /** rfc9383 K_main; ccc K. */
  readonly mainKey: Uint8Array;
  /** rfc9383 K_confirmP; ccc K1. */
  readonly confirmKeyP: Uint8Array;
  /** rfc9383 K_confirmV; ccc K2. */
  readonly confirmKeyV: Uint8Array;
  /** Sent by the prover. rfc9383 HMAC(K_confirmP, shareV); ccc CMAC(K1, X). */
  readonly confirmP: Uint8Array;
  /** Sent by the verifier. rfc9383 HMAC(K_confirmV, shareP); ccc CMAC(K2, Y). */
  readonly confirmV: Uint8Array;
  /** rfc9383 K_shared (32 bytes); ccc SK (16 bytes). Input to the session-key derivation. */
  readonly sharedKey: Uint8Array;
}

export const CONFIRMATION_LENGTH: Record<Spake2PlusProfile, number> = { rfc9383: 32, ccc: 16 };

function lengthPrefixed(parts: readonly Uint8Array[]): Uint8Array {
  return concatBytes(...parts.flatMap((part) => [u64le(part.length), part]));
}

export function computeKeySchedule(
  crypto: Crypto,
  params: Spake2PlusParams,
  shares: { shareP: Uint8Array; shareV: Uint8Array; Z: Uint8Array; V: Uint8Array; w0: bigint },
): Spake2PlusKeySchedule {
  const { shareP, shareV, Z, V } = shares;
  const w0 = encodeScalar(shares.w0);
  if (params.profile === "rfc9383") {
    const transcript = lengthPrefixed([
      params.context ?? new Uint8Array(0),
      params.idProver ?? new Uint8Array(0),
      params.idVerifier ?? new Uint8Array(0),
      M_BYTES,
      N_BYTES,
      shareP,
      shareV,
      Z,
      V,
      w0,
    ]);
    const mainKey = crypto.sha256(transcript);
    const confirmKeys = crypto.hkdfSha256(mainKey, new Uint8Array(0), utf8("ConfirmationKeys"), 64);
    const confirmKeyP = confirmKeys.slice(0, 32);
    const confirmKeyV = confirmKeys.slice(32, 64);
    return {
      transcript,
      mainKey,
      confirmKeyP,
      confirmKeyV,
      confirmP: crypto.hmacSha256(confirmKeyP, shareV),
      confirmV: crypto.hmacSha256(confirmKeyV, shareP),
      sharedKey: crypto.hkdfSha256(mainKey, new Uint8Array(0), utf8("SharedKey"), 32),
    };
  }
  const transcript = lengthPrefixed([shareP, shareV, Z, V, w0]);
  const mainKey = crypto.sha256(transcript);
  const info = concatBytes(utf8("ConfirmationKeys"), params.versionInfo ?? CCC_DEFAULT_VERSION_INFO);
  const confirmKeys = crypto.hkdfSha256(mainKey.subarray(0, 16), new Uint8Array(0), info, 32);
  const confirmKeyP = confirmKeys.slice(0, 16);
  const confirmKeyV = confirmKeys.slice(16, 32);
  return {
    transcript,
    mainKey,
    confirmKeyP,
    confirmKeyV,
    confirmP: crypto.aesCmac(confirmKeyP, shareP),
    confirmV: crypto.aesCmac(confirmKeyV, shareV),
    sharedKey: mainKey.slice(16, 32),
  };
}

/** w0·M and w0·N, computed once per password: the vehicle stores them with its verifier. */
export interface PreparedW0 {
  readonly w0: bigint;
  readonly w0M: P256Point;
  readonly w0N: P256Point;
}

export function prepareW0(crypto: Crypto, w0: bigint): PreparedW0 {
  checkScalar(w0, "w0");
  const [w0M, w0N] = crypto.group.mulTwoBases(w0, M, N);
  return { w0, w0M, w0N };
}

/** A verifier record ready for handshakes: the vehicle keeps one per pairing session. */
export interface PreparedVerifier extends PreparedW0 {
  readonly L: P256Point;
}

export function prepareVerifier(crypto: Crypto, verifier: PasswordVerifier): PreparedVerifier {
  return { ...prepareW0(crypto, verifier.w0), L: decodePoint(verifier.L, "L") };
}

export interface PreparedProver extends PreparedW0 {
  readonly w1: bigint;
}

export function prepareProver(crypto: Crypto, scalars: PasswordScalars): PreparedProver {
  return { ...prepareW0(crypto, scalars.w0), w1: checkScalar(scalars.w1, "w1") };
}

/** A SPAKE2+ message arrived out of order (e.g. confirmation before shares). */
export class Spake2PlusStateError extends PairkitError {
  constructor(expected: string) {
    super("SPAKE2PLUS_STATE", `SPAKE2+: ${expected}`);
  }
}

function randomScalar(crypto: Crypto): bigint {
  // 48 random bytes reduced mod n−1, plus one: bias below 2⁻¹²⁸, never zero.
  const bytes = crypto.randomBytes(48);
  let k = 0n;
  for (const b of bytes) k = (k << 8n) | BigInt(b);
  wipe(bytes);
  return (k % (P256_ORDER - 1n)) + 1n;
}

function nonIdentity(point: P256Point, what: string): P256Point {
  // Z and V are hashed as 65-byte points; the identity has no such encoding and would only
  // arise from a share crafted against our w0.
  if (point.is0()) throw new ConfirmationError(what);
  return point;
}

abstract class Spake2PlusParty {
  protected established: Spake2PlusKeySchedule | undefined;
  protected destroyed = false;

  protected constructor(
    protected readonly crypto: Crypto,
    protected readonly params: Spake2PlusParams,
  ) {}

  /** Checks the peer's confirmation in constant time; returns the shared key on success. */
  protected verifyPeer(received: Uint8Array, expected: Uint8Array, what: string): Uint8Array {
    const schedule = this.require();
    expectLength(received, CONFIRMATION_LENGTH[this.params.profile], what);
    if (!constantTimeEqual(received, expected)) throw new ConfirmationError(what);
    return schedule.sharedKey.slice();
  }

  protected require(): Spake2PlusKeySchedule {
    if (this.destroyed) throw new Spake2PlusStateError("destroyed");
    if (!this.established) throw new Spake2PlusStateError("shares not exchanged yet");
    return this.established;
  }

  /** The key schedule, for tests and for the protocol trace of non-secret values. */
  get keySchedule(): Spake2PlusKeySchedule {
    return this.require();
  }

  /** Wipes every secret this party holds. */
  destroy(): void {
    if (this.established) {
      const s = this.established;
      wipe(s.mainKey, s.confirmKeyP, s.confirmKeyV, s.sharedKey, s.transcript);
    }
    this.destroyed = true;
    this.established = undefined;
  }
}

/** The phone's side. */
export class Spake2PlusProver extends Spake2PlusParty {
  readonly shareP: Uint8Array;
  readonly #x: bigint;
  readonly #prepared: PreparedProver;

  constructor(crypto: Crypto, params: Spake2PlusParams, prepared: PreparedProver, x?: bigint) {
    super(crypto, params);
    this.#prepared = prepared;
    this.#x = x === undefined ? randomScalar(crypto) : checkScalar(x, "x");
    // X = x·G + w0·M
    this.shareP = encodePoint(crypto.group.mulBaseAdd(this.#x, prepared.w0M));
  }

  /**
   * Takes the verifier's share Y (validated), computes Z = x·(Y − w0·N), V = w1·(Y − w0·N),
   * and returns this side's confirmation.
   */
  receiveShareV(shareV: Uint8Array): { confirmP: Uint8Array } {
    if (this.destroyed) throw new Spake2PlusStateError("destroyed");
    if (this.established) throw new Spake2PlusStateError("shareV already received");
    const Y = decodePoint(shareV, "SPAKE2+ shareV");
    const T = nonIdentity(Y.subtract(this.#prepared.w0N), "SPAKE2+ shareV");
    const [z, v] = this.crypto.group.mulTwoScalars(this.#x, this.#prepared.w1, T);
    const Z = encodePoint(nonIdentity(z, "SPAKE2+ Z"));
    const V = encodePoint(nonIdentity(v, "SPAKE2+ V"));
    const schedule = computeKeySchedule(this.crypto, this.params, {
      shareP: this.shareP,
      shareV: shareV.slice(),
      Z,
      V,
      w0: this.#prepared.w0,
    });
    wipe(Z, V);
    this.established = schedule;
    return { confirmP: schedule.confirmP.slice() };
  }

  /** Checks the verifier's confirmation; throws `ConfirmationError` (wrong password or tampering). */
  verifyConfirmV(confirmV: Uint8Array): Uint8Array {
    return this.verifyPeer(confirmV, this.require().confirmV, "SPAKE2+ confirmV");
  }
}

/** The vehicle's side. */
export class Spake2PlusVerifier extends Spake2PlusParty {
  readonly #y: bigint;
  readonly #prepared: PreparedVerifier;

  constructor(crypto: Crypto, params: Spake2PlusParams, prepared: PreparedVerifier, y?: bigint) {
    super(crypto, params);
    this.#prepared = prepared;
    this.#y = y === undefined ? randomScalar(crypto) : checkScalar(y, "y");
  }

  /**
   * Takes the prover's share X (validated); returns Y = y·G + w0·N and this side's
   * confirmation, after computing Z = y·(X − w0·M) and V = y·L.
   */
  receiveShareP(shareP: Uint8Array): { shareV: Uint8Array; confirmV: Uint8Array } {
    if (this.destroyed) throw new Spake2PlusStateError("destroyed");
    if (this.established) throw new Spake2PlusStateError("shareP already received");
    const X = decodePoint(shareP, "SPAKE2+ shareP");
    const shareV = encodePoint(this.crypto.group.mulBaseAdd(this.#y, this.#prepared.w0N));
    const T = nonIdentity(X.subtract(this.#prepared.w0M), "SPAKE2+ shareP");
    const [z, v] = this.crypto.group.mulTwoBases(this.#y, T, this.#prepared.L);
    const Z = encodePoint(nonIdentity(z, "SPAKE2+ Z"));
    const V = encodePoint(nonIdentity(v, "SPAKE2+ V"));
    const schedule = computeKeySchedule(this.crypto, this.params, {
      shareP: shareP.slice(),
      shareV,
      Z,
      V,
      w0: this.#prepared.w0,
    });
    wipe(Z, V);
    this.established = schedule;
    return { shareV, confirmV: schedule.confirmV.slice() };
  }

  /** Checks the prover's confirmation; throws `ConfirmationError` (wrong password or tampering). */
  verifyConfirmP(confirmP: Uint8Array): Uint8Array {
    return this.verifyPeer(confirmP, this.require().confirmP, "SPAKE2+ confirmP");
  }
}
