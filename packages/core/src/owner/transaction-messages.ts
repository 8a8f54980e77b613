import { POINT_LENGTH } from "../crypto/p256.ts";
import { KEY_ID_LENGTH } from "./constants.ts";
import { MAX_KEY_ATTESTATION_LENGTH } from "./key-attestation.ts";
import { MessageFormatError, WireReader, WireWriter } from "./wire.ts";

/**
 * The standard transaction (DESIGN.md, shaped like CCC AUTH0/AUTH1), frame types 0x10–0x15.
 * AUTH1, AUTH1_RESPONSE and RESULT travel sealed under the transaction keys; the codecs here
 * are for their plaintexts.
 */

export const TRANSACTION_ID_LENGTH = 16;
const MAX_SIGNATURE_LENGTH = 72;
/** TXN_RESULT.status: the vehicle unlocked. Denials arrive as ERROR frames (phase 5). */
export const TXN_STATUS_UNLOCKED = 0x90;

export interface TxnStart {
  readonly version: number;
}

export function encodeTxnStart(m: TxnStart): Uint8Array {
  return new WireWriter("TXN_START").u8(m.version, "version").finish();
}

export function decodeTxnStart(bytes: Uint8Array): TxnStart {
  const r = new WireReader(bytes, "TXN_START");
  const m = { version: r.u8("version") };
  r.end();
  return m;
}

export interface TxnAuth0 {
  readonly vehicleEphemeralPublicKey: Uint8Array;
  readonly transactionId: Uint8Array;
}

export function encodeTxnAuth0(m: TxnAuth0): Uint8Array {
  return new WireWriter("TXN_AUTH0")
    .bytes(m.vehicleEphemeralPublicKey, POINT_LENGTH, "vehicleEphemeralPublicKey")
    .bytes(m.transactionId, TRANSACTION_ID_LENGTH, "transactionId")
    .finish();
}

export function decodeTxnAuth0(bytes: Uint8Array): TxnAuth0 {
  const r = new WireReader(bytes, "TXN_AUTH0");
  const m = {
    vehicleEphemeralPublicKey: r.bytesOf(POINT_LENGTH, "vehicleEphemeralPublicKey"),
    transactionId: r.bytesOf(TRANSACTION_ID_LENGTH, "transactionId"),
  };
  r.end();
  return m;
}

export interface TxnAuth0Response {
  readonly deviceEphemeralPublicKey: Uint8Array;
}

export function encodeTxnAuth0Response(m: TxnAuth0Response): Uint8Array {
  return new WireWriter("TXN_AUTH0_RESPONSE")
    .bytes(m.deviceEphemeralPublicKey, POINT_LENGTH, "deviceEphemeralPublicKey")
    .finish();
}

export function decodeTxnAuth0Response(bytes: Uint8Array): TxnAuth0Response {
  const r = new WireReader(bytes, "TXN_AUTH0_RESPONSE");
  const m = { deviceEphemeralPublicKey: r.bytesOf(POINT_LENGTH, "deviceEphemeralPublicKey") };
  r.end();
  return m;
}

/** TXN_AUTH1 plaintext: the vehicle's signature (DER). */
export interface TxnAuth1 {
  readonly vehicleSignature: Uint8Array;
}

export function encodeTxnAuth1(m: TxnAuth1): Uint8Array {
  return signatureField(new WireWriter("TXN_AUTH1"), m.vehicleSignature).finish();
}

export function decodeTxnAuth1(bytes: Uint8Array): TxnAuth1 {
  const r = new WireReader(bytes, "TXN_AUTH1");
  const m = { vehicleSignature: readSignature(r) };
  r.end();
  return m;
}

/**
 * TXN_AUTH1_RESPONSE plaintext: which key answers, its endpoint signature (DER), and — only when
 * the KTS was unreachable at pairing and the phone has fetched it since — the owed KeyAtt.
 */
export interface TxnAuth1Response {
  readonly keyId: Uint8Array;
  readonly endpointSignature: Uint8Array;
  /** Encoded KeyAtt (docs/protocol.md §3.8); absent when the vehicle already holds it. */
  readonly keyAttestation?: Uint8Array;
}

export function encodeTxnAuth1Response(m: TxnAuth1Response): Uint8Array {
  const w = new WireWriter("TXN_AUTH1_RESPONSE").bytes(m.keyId, KEY_ID_LENGTH, "keyId");
  signatureField(w, m.endpointSignature);
  if (m.keyAttestation !== undefined) {
    if (m.keyAttestation.length < 1 || m.keyAttestation.length > MAX_KEY_ATTESTATION_LENGTH)
      throw new MessageFormatError("TXN_AUTH1_RESPONSE", "keyAttestation length out of range");
    w.u16(m.keyAttestation.length, "keyAttestationLength").bytes(m.keyAttestation);
  }
  return w.finish();
}

export function decodeTxnAuth1Response(bytes: Uint8Array): TxnAuth1Response {
  const r = new WireReader(bytes, "TXN_AUTH1_RESPONSE");
  const keyId = r.bytesOf(KEY_ID_LENGTH, "keyId");
  const endpointSignature = readSignature(r);
  if (r.remaining === 0) return { keyId, endpointSignature };
  const length = r.u16("keyAttestationLength");
  if (length < 1 || length > MAX_KEY_ATTESTATION_LENGTH) r.fail("keyAttestation length out of range");
  const keyAttestation = r.bytesOf(length, "keyAttestation");
  r.end();
  return { keyId, endpointSignature, keyAttestation };
}

/** TXN_RESULT plaintext. */
export interface TxnResult {
  readonly status: number;
}

export function encodeTxnResult(m: TxnResult): Uint8Array {
  return new WireWriter("TXN_RESULT").u8(m.status, "status").finish();
}

export function decodeTxnResult(bytes: Uint8Array): TxnResult {
  const r = new WireReader(bytes, "TXN_RESULT");
  const m = { status: r.u8("status") };
  r.end();
  return m;
}

function signatureField(w: WireWriter, signature: Uint8Array): WireWriter {
  if (signature.length < 8 || signature.length > MAX_SIGNATURE_LENGTH)
    throw new MessageFormatError("signature", "length out of range");
  return w.u8(signature.length, "signatureLength").bytes(signature);
}

function readSignature(r: WireReader): Uint8Array {
  const length = r.u8("signatureLength");
  if (length < 8 || length > MAX_SIGNATURE_LENGTH) r.fail("signature length out of range");
  return r.bytesOf(length, "signature");
}
