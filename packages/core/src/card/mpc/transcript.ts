import { concatBytes, utf8 } from "../../bytes.ts";
import type { Crypto } from "../../crypto/crypto.ts";
import type { MpcDkgPackage } from "../gen/pairkit/activecard/v1/active_card_pb.ts";
import type { Ciphersuite } from "./ciphersuite.ts";

export const DKG_TRANSCRIPT_LABEL = "pairkit/mpc/dkg/v1";

export interface DkgTranscript {
  readonly sessionId: Uint8Array;
  readonly phoneIdentityPublicKey: Uint8Array;
  readonly cardIdentityPublicKey: Uint8Array;
  readonly walletId: Uint8Array;
  readonly suite: Ciphersuite;
  readonly minSigners: number;
  readonly maxSigners: number;
  readonly label: string;
  /** Every participant's round-1 package, participant 1 first. */
  readonly packages: readonly MpcDkgPackage[];
  readonly groupPublicKey: Uint8Array;
}

/**
 * The DKG transcript hash both sides exchange before either keeps a share (docs §4.11.3):
 * SHA-256 over the session id, both identity keys, the wallet parameters, every round-1
 * package and the group key. Equal hashes prove both sides finished the same DKG in this
 * session between these two identities; a transcript from another session cannot match.
 * Every field but the label has a fixed length for the suite, so plain concatenation is
 * unambiguous; the label is length-prefixed.
 */
export function dkgTranscriptHash(crypto: Crypto, t: DkgTranscript): Uint8Array {
  const label = utf8(t.label);
  return crypto.sha256(
    concatBytes(
      utf8(DKG_TRANSCRIPT_LABEL),
      t.sessionId,
      t.phoneIdentityPublicKey,
      t.cardIdentityPublicKey,
      t.walletId,
      Uint8Array.of(t.suite.id, t.minSigners, t.maxSigners, label.length),
      label,
      ...t.packages.flatMap((p) => [Uint8Array.of(p.participant), ...p.commitment, p.proofOfKnowledge]),
      t.groupPublicKey,
    ),
  );
}
