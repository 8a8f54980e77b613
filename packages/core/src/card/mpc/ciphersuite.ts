import type { FROST } from "@noble/curves/abstract/frost.js";
import { ed25519_FROST } from "@noble/curves/ed25519.js";
import { p256_FROST } from "@noble/curves/nist.js";
import { schnorr_FROST } from "@noble/curves/secp256k1.js";
import { CardProtocolError } from "../errors.ts";
import { MpcCiphersuite } from "../gen/pairkit/activecard/v1/active_card_pb.ts";

/**
 * The FROST ciphersuites a wallet may use (RFC 9591 through @noble/curves; pairkit never
 * implements FROST itself) and the fixed sizes the wire checks rely on.
 */
export interface Ciphersuite {
  readonly id: MpcCiphersuite;
  /** The SDK's name for it. */
  readonly name: CiphersuiteName;
  readonly frost: FROST;
  /** Encoded group element (commitments, verifying shares, group public key). */
  readonly pointLength: number;
  /** Encoded scalar (shares, signature shares). */
  readonly scalarLength: number;
  /** A DKG proof of knowledge and a final signature (R ‖ z). */
  readonly signatureLength: number;
}

export type CiphersuiteName = "p256" | "secp256k1-taproot" | "ed25519";

const SUITES: readonly Ciphersuite[] = [
  {
    id: MpcCiphersuite.FROST_P256_SHA256,
    name: "p256",
    frost: p256_FROST,
    pointLength: 33,
    scalarLength: 32,
    signatureLength: 65,
  },
  {
    id: MpcCiphersuite.FROST_SECP256K1_TAPROOT,
    name: "secp256k1-taproot",
    frost: schnorr_FROST,
    pointLength: 33,
    scalarLength: 32,
    signatureLength: 64,
  },
  {
    id: MpcCiphersuite.FROST_ED25519_SHA512,
    name: "ed25519",
    frost: ed25519_FROST,
    pointLength: 32,
    scalarLength: 32,
    signatureLength: 64,
  },
];

/** P-256 is the seed's curve and the default. */
export const DEFAULT_CIPHERSUITE: CiphersuiteName = "p256";

export function ciphersuiteByName(name: CiphersuiteName): Ciphersuite {
  const suite = SUITES.find((s) => s.name === name);
  if (!suite) throw new CardProtocolError("UNKNOWN_CIPHERSUITE", "mpc", `unknown ciphersuite ${name}`);
  return suite;
}

/** The suite of a wire value; anything else is UNKNOWN_CIPHERSUITE. */
export function ciphersuiteById(id: MpcCiphersuite): Ciphersuite {
  const suite = SUITES.find((s) => s.id === id);
  if (!suite) throw new CardProtocolError("UNKNOWN_CIPHERSUITE", "mpc", `unknown ciphersuite ${id}`);
  return suite;
}

/** FROST participant identifiers: fixed roles, so neither side can claim another's. */
export const Participant = { phone: 1, card: 2, recovery: 3 } as const;
export type ParticipantIndex = (typeof Participant)[keyof typeof Participant];

export function participantName(index: number): string {
  switch (index) {
    case Participant.phone:
      return "phone (participant 1)";
    case Participant.card:
      return "card (participant 2)";
    case Participant.recovery:
      return "recovery (participant 3)";
    default:
      return `participant ${index}`;
  }
}

/** The library's identifier (hex of the scalar) of a participant index. */
export function identifierOf(suite: Ciphersuite, index: number): string {
  return suite.frost.Identifier.fromNumber(index);
}

/**
 * Runs a library call; its plain Error becomes a typed {@link CardProtocolError} with `code`
 * and a message naming what failed (the library's messages carry no secrets).
 */
export function frostCall<T>(code: string, what: string, call: () => T): T {
  try {
    return call();
  } catch (cause) {
    if (cause instanceof CardProtocolError) throw cause;
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new CardProtocolError(code, "mpc", `${what}: ${detail}`, { cause });
  }
}
