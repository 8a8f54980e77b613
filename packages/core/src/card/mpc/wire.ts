import { create } from "@bufbuild/protobuf";
import type { DKG_Round1, NonceCommitments } from "@noble/curves/abstract/frost.js";
import { constantTimeEqual } from "../../bytes.ts";
import { CardProtocolError } from "../errors.ts";
import {
  type MpcDkgPackage,
  MpcDkgPackageSchema,
  type MpcDkgShare,
  MpcPayloadKind,
} from "../gen/pairkit/activecard/v1/active_card_pb.ts";
import { type Ciphersuite, frostCall, identifierOf, participantName } from "./ciphersuite.ts";
import {
  MPC_DIGEST_LENGTH,
  MPC_ID_LENGTH,
  MPC_MAX_LABEL_BYTES,
  MPC_MAX_MESSAGE_BYTES,
  type SignPayload,
} from "./wallet.ts";

/** Field checks both sides apply to MPC messages (docs §4.11.6); each failure is MALFORMED_MESSAGE. */

function malformed(why: string): CardProtocolError {
  return new CardProtocolError("MALFORMED_MESSAGE", "mpc", why);
}

export function checkMpcId(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length !== MPC_ID_LENGTH) throw malformed(`${what}: expected 16 bytes, got ${bytes.length}`);
  return bytes;
}

export function checkLength(bytes: Uint8Array, length: number, what: string): Uint8Array {
  if (bytes.length !== length) throw malformed(`${what}: expected ${length} bytes, got ${bytes.length}`);
  return bytes;
}

export function checkLabel(label: string): string {
  if (new TextEncoder().encode(label).length > MPC_MAX_LABEL_BYTES) {
    throw malformed(`label longer than ${MPC_MAX_LABEL_BYTES} bytes`);
  }
  return label;
}

/** Wire form of a payload; its size is checked so the card never shows or signs junk. */
export function payloadToWire(payload: SignPayload): { kind: MpcPayloadKind; payload: Uint8Array } {
  const wire =
    "digest" in payload
      ? { kind: MpcPayloadKind.DIGEST, payload: payload.digest }
      : { kind: MpcPayloadKind.MESSAGE, payload: payload.message };
  checkPayload(wire.kind, wire.payload);
  return wire;
}

export function checkPayload(kind: MpcPayloadKind, payload: Uint8Array): void {
  if (kind === MpcPayloadKind.DIGEST) {
    checkLength(payload, MPC_DIGEST_LENGTH, "digest");
  } else if (kind === MpcPayloadKind.MESSAGE) {
    if (payload.length === 0 || payload.length > MPC_MAX_MESSAGE_BYTES) {
      throw malformed(`message must be 1..${MPC_MAX_MESSAGE_BYTES} bytes, got ${payload.length}`);
    }
  } else {
    throw malformed(`unknown payload kind ${kind}`);
  }
}

/** The DKG round-1 package on the wire; the participant index replaces the library's hex identifier. */
export function dkgPackageToWire(index: number, round1: DKG_Round1): MpcDkgPackage {
  return create(MpcDkgPackageSchema, {
    participant: index,
    commitment: round1.commitment.map((c) => c.slice()),
    proofOfKnowledge: round1.proofOfKnowledge.slice(),
  });
}

/**
 * A received round-1 package, checked: it must come from `expected` (a peer cannot speak for
 * another participant, WRONG_PARTICIPANT), with `minSigners` commitments of the suite's size.
 */
export function dkgPackageFromWire(
  suite: Ciphersuite,
  wire: MpcDkgPackage | undefined,
  expected: number,
  minSigners: number,
): DKG_Round1 {
  if (!wire) throw malformed(`missing DKG package of ${participantName(expected)}`);
  if (wire.participant !== expected) {
    throw new CardProtocolError(
      "WRONG_PARTICIPANT",
      "mpc",
      `DKG package claims ${participantName(wire.participant)}, expected ${participantName(expected)}`,
    );
  }
  if (wire.commitment.length !== minSigners) {
    throw malformed(`DKG package of ${participantName(expected)} has ${wire.commitment.length} commitments`);
  }
  for (const point of wire.commitment) checkLength(point, suite.pointLength, "DKG commitment");
  checkLength(wire.proofOfKnowledge, suite.signatureLength, "DKG proof of knowledge");
  return {
    identifier: identifierOf(suite, expected),
    commitment: wire.commitment.map((c) => c.slice()),
    proofOfKnowledge: wire.proofOfKnowledge.slice(),
  };
}

/**
 * The DKG shares of a message, exactly the `expected` (sender, receiver) pairs in that order;
 * a share from anyone else, or for anyone else, is WRONG_PARTICIPANT.
 */
export function dkgSharesFromWire(
  suite: Ciphersuite,
  shares: readonly MpcDkgShare[],
  expected: readonly (readonly [sender: number, receiver: number])[],
): Uint8Array[] {
  if (shares.length !== expected.length) throw malformed(`expected ${expected.length} DKG shares`);
  return expected.map(([sender, receiver], i) => {
    const share = shares[i]!;
    if (share.sender !== sender || share.receiver !== receiver) {
      throw new CardProtocolError(
        "WRONG_PARTICIPANT",
        "mpc",
        `DKG share ${share.sender} → ${share.receiver}, expected ${sender} → ${receiver}`,
      );
    }
    return checkLength(share.signingShare, suite.scalarLength, "DKG share");
  });
}

/** A participant's signing commitments from the wire, checked for size. */
export function commitmentsFromWire(
  suite: Ciphersuite,
  index: number,
  hiding: Uint8Array,
  binding: Uint8Array,
): NonceCommitments {
  return {
    identifier: identifierOf(suite, index),
    hiding: checkLength(hiding, suite.pointLength, "hiding commitment").slice(),
    binding: checkLength(binding, suite.pointLength, "binding commitment").slice(),
  };
}

/** A DKG share from `sender` checked against the sender's commitment (naming the culprit). */
export function checkShareFrom(
  suite: Ciphersuite,
  sender: number,
  senderPackage: DKG_Round1,
  receiver: number,
  share: Uint8Array,
  signers: { min: number; max: number },
): void {
  frostCall(
    "INVALID_DKG_SHARE",
    `DKG share from ${participantName(sender)} to ${participantName(receiver)}`,
    () =>
      suite.frost.validateSecret(
        { identifier: identifierOf(suite, receiver), signingShare: share },
        { signers, commitments: senderPackage.commitment, verifyingShares: {} },
      ),
  );
}

export function checkSameId(received: Uint8Array, expected: Uint8Array, what: string): void {
  checkMpcId(received, what);
  if (!constantTimeEqual(received, expected)) {
    throw new CardProtocolError("UNEXPECTED_MESSAGE", "mpc", `${what} is not this exchange's`);
  }
}
