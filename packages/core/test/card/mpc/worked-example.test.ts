import { readFileSync } from "node:fs";
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { p256 } from "@noble/curves/nist.js";
import { describe, expect, it } from "vitest";
import {
  ciphersuiteByName,
  concatBytes,
  dkgPackageToWire,
  dkgTranscriptHash,
  fromHex,
  frostPublicOf,
  identifierOf,
  MpcCiphersuite,
  MpcDkgCardRoundSchema,
  MpcDkgFinishSchema,
  MpcDkgResultSchema,
  MpcDkgStartSchema,
  MpcPayloadKind,
  MpcSignCommitmentSchema,
  MpcSignPackageSchema,
  MpcSignRequestSchema,
  MpcSignShareSchema,
  toHex,
  walletPublicFrom,
} from "../../../src/index.ts";
import { backends } from "../../backends.ts";

/** The `name = hex` lines of the worked example in docs/protocol.md §4.11.9. */
function documented(): Record<string, string> {
  const doc = readFileSync(new URL("../../../../../docs/protocol.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("#### 4.11.9 Worked example"));
  const block = section.slice(section.indexOf("```") + 3, section.indexOf("```", section.indexOf("```") + 3));
  return Object.fromEntries(
    [...block.matchAll(/^(\w+) = ([0-9a-f]+)$/gm)].map((m) => [m[1]!, m[2]!] as [string, string]),
  );
}

const bytes = (b: number, n = 32) => new Uint8Array(n).fill(b);
/** noble maps 48 RNG bytes to a scalar as (x mod (n − 1)) + 1; these 48 bytes give exactly `s`. */
const scalarRng = (...scalars: Uint8Array[]) => {
  const queue = scalars.map((s) => {
    const minusOne = (BigInt(`0x${toHex(s)}`) - 1n).toString(16).padStart(64, "0");
    return concatBytes(new Uint8Array(16), fromHex(minusOne));
  });
  return () => queue.shift()!.slice();
};
const fixedRng =
  (...values: Uint8Array[]) =>
  () =>
    values.shift()!.slice();
const encode = <D extends DescMessage>(schema: D, init: MessageInitShape<D>) =>
  toHex(toBinary(schema, create(schema, init)));

describe.each(backends)("docs/protocol.md §4.11.9 MPC worked example ($name)", (crypto) => {
  it("recomputes every documented byte: DKG messages, transcript hash, shares, signing messages, signature", () => {
    const doc = documented();
    const suite = ciphersuiteByName("p256");
    const { frost } = suite;
    const [id1, id2] = [identifierOf(suite, 1), identifierOf(suite, 2)];
    const sessionId = fromHex("000102030405060708090a0b0c0d0e0f");
    const phoneId = p256.getPublicKey(bytes(0xa1), false);
    const cardId = p256.getPublicKey(bytes(0xc1), false);
    const walletId = bytes(0x77, 16);
    const signers = { min: 2, max: 2 };
    const got: Record<string, string> = {
      phone_identity_pub: toHex(phoneId),
      card_identity_pub: toHex(cardId),
    };

    const phone = frost.DKG.round1(id1, signers, bytes(0x01), scalarRng(bytes(0x02), bytes(0x03)));
    const card = frost.DKG.round1(id2, signers, bytes(0x04), scalarRng(bytes(0x05), bytes(0x06)));
    got.MPC_DKG_START = encode(MpcDkgStartSchema, {
      walletId,
      ciphersuite: MpcCiphersuite.FROST_P256_SHA256,
      minSigners: 2,
      maxSigners: 2,
      packages: [dkgPackageToWire(1, phone.public)],
      label: "demo",
    });
    const fromCard = frost.DKG.round2(card.secret, [phone.public]);
    got.MPC_DKG_CARD_ROUND = encode(MpcDkgCardRoundSchema, {
      walletId,
      package: dkgPackageToWire(2, card.public),
      shares: [{ sender: 2, receiver: 1, signingShare: fromCard[id1]!.signingShare }],
    });
    const fromPhone = frost.DKG.round2(phone.secret, [card.public]);
    const phoneKey = frost.DKG.round3(
      phone.secret,
      [card.public],
      [{ identifier: id2, signingShare: fromCard[id1]!.signingShare }],
    );
    const cardKey = frost.DKG.round3(
      card.secret,
      [phone.public],
      [{ identifier: id1, signingShare: fromPhone[id2]!.signingShare }],
    );
    const wallet = walletPublicFrom(suite, { walletId, label: "demo" }, phoneKey.public);
    const transcriptHash = dkgTranscriptHash(crypto, {
      sessionId,
      phoneIdentityPublicKey: phoneId,
      cardIdentityPublicKey: cardId,
      walletId,
      suite,
      minSigners: 2,
      maxSigners: 2,
      label: "demo",
      packages: [dkgPackageToWire(1, phone.public), dkgPackageToWire(2, card.public)],
      groupPublicKey: wallet.groupPublicKey,
    });
    got.MPC_DKG_FINISH = encode(MpcDkgFinishSchema, {
      walletId,
      shares: [{ sender: 1, receiver: 2, signingShare: fromPhone[id2]!.signingShare }],
      transcriptHash,
    });
    got.MPC_DKG_RESULT = encode(MpcDkgResultSchema, {
      walletId,
      groupPublicKey: wallet.groupPublicKey,
      transcriptHash,
    });
    got.transcript_hash = toHex(transcriptHash);
    got.group_public_key = toHex(wallet.groupPublicKey);
    got.phone_share = toHex(phoneKey.secret.signingShare);
    got.card_share = toHex(cardKey.secret.signingShare);

    const signId = bytes(0x55, 16);
    const digest = bytes(0x42);
    got.MPC_SIGN_REQUEST = encode(MpcSignRequestSchema, {
      walletId,
      signId,
      participant: 1,
      kind: MpcPayloadKind.DIGEST,
      payload: digest,
    });
    const cardRound = frost.commit(cardKey.secret, fixedRng(bytes(0x07), bytes(0x08)));
    got.MPC_SIGN_COMMITMENT = encode(MpcSignCommitmentSchema, {
      signId,
      hiding: cardRound.commitments.hiding,
      binding: cardRound.commitments.binding,
    });
    const phoneRound = frost.commit(phoneKey.secret, fixedRng(bytes(0x09), bytes(0x0a)));
    got.MPC_SIGN_PACKAGE = encode(MpcSignPackageSchema, {
      signId,
      participant: 1,
      hiding: phoneRound.commitments.hiding,
      binding: phoneRound.commitments.binding,
    });
    const commitments = [phoneRound.commitments, cardRound.commitments];
    const pub = frostPublicOf(wallet);
    const cardShare = frost.signShare(cardKey.secret, pub, cardRound.nonces, commitments, digest);
    got.MPC_SIGN_SHARE = encode(MpcSignShareSchema, { signId, signatureShare: cardShare });
    const phoneShare = frost.signShare(phoneKey.secret, pub, phoneRound.nonces, commitments, digest);
    got.phone_signature_share = toHex(phoneShare);
    const signature = frost.aggregate(pub, commitments, digest, { [id1]: phoneShare, [id2]: cardShare });
    got.signature = toHex(signature);

    expect(got).toEqual(doc);
    expect(frost.verify(signature, digest, wallet.groupPublicKey)).toBe(true);
    // The documented arithmetic: group key (a10 + a20)·G.
    expect(
      toHex(
        p256.Point.BASE.multiply(0x0505050505050505050505050505050505050505050505050505050505050505n).toBytes(
          true,
        ),
      ),
    ).toBe(doc.group_public_key);
  });
});
