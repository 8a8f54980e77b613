import { concatBytes, utf8 } from "../bytes.ts";
import { POINT_LENGTH } from "../crypto/p256.ts";
import { DIGEST_LENGTH, KEY_ID_LENGTH, MAC_LENGTH, OwnerLabel } from "./constants.ts";
import { MessageFormatError, WireReader, WireWriter } from "./wire.ts";

/** Phases 3–4 (seed 001 §3): DEVICE_CONFIG_ACK, ENDPOINT_READY, OP_CONTROL_FLOW, SIG_BITMAP_UPDATE. */

/** DEVICE_CONFIG_ACK: SHA-256 of the DEVICE_CONFIG payload exactly as received. */
export interface DeviceConfigAck {
  readonly configDigest: Uint8Array;
}

export function encodeDeviceConfigAck(m: DeviceConfigAck): Uint8Array {
  return new WireWriter("DEVICE_CONFIG_ACK").bytes(m.configDigest, DIGEST_LENGTH, "configDigest").finish();
}

export function decodeDeviceConfigAck(bytes: Uint8Array): DeviceConfigAck {
  const r = new WireReader(bytes, "DEVICE_CONFIG_ACK");
  const m = { configDigest: r.bytesOf(DIGEST_LENGTH, "configDigest") };
  r.end();
  return m;
}

/**
 * ENDPOINT_READY, extended beyond the seed with the endpoint public key (so the vehicle can
 * authenticate the key in transactions) and a receipt MAC under Krmac.
 * On a secure-element failure seStatus ≠ 0 and endpointPublicKey is 65 zero bytes.
 */
export interface EndpointReady {
  /** First 16 bytes of SHA-256(endpointPublicKey): the key id. */
  readonly endpointIdHash: Uint8Array;
  readonly seStatus: number;
  readonly endpointPublicKey: Uint8Array;
  readonly receiptMac: Uint8Array;
}

export function encodeEndpointReadyBody(m: Omit<EndpointReady, "receiptMac">): Uint8Array {
  return new WireWriter("ENDPOINT_READY")
    .bytes(m.endpointIdHash, KEY_ID_LENGTH, "endpointIdHash")
    .u8(m.seStatus, "seStatus")
    .bytes(m.endpointPublicKey, POINT_LENGTH, "endpointPublicKey")
    .finish();
}

export function encodeEndpointReady(m: EndpointReady): Uint8Array {
  return concatBytes(encodeEndpointReadyBody(m), expectMac(m.receiptMac, "ENDPOINT_READY"));
}

export function decodeEndpointReady(bytes: Uint8Array): EndpointReady {
  const r = new WireReader(bytes, "ENDPOINT_READY");
  const m = {
    endpointIdHash: r.bytesOf(KEY_ID_LENGTH, "endpointIdHash"),
    seStatus: r.u8("seStatus"),
    endpointPublicKey: r.bytesOf(POINT_LENGTH, "endpointPublicKey"),
    receiptMac: r.bytesOf(MAC_LENGTH, "receiptMac"),
  };
  r.end();
  return m;
}

/** ENDPOINT_READY.receiptMac = HMAC-SHA256(Krmac, this): label ‖ body ‖ configDigest. */
export function endpointReceiptInput(body: Uint8Array, configDigest: Uint8Array): Uint8Array {
  return concatBytes(utf8(OwnerLabel.endpointReceipt), body, configDigest);
}

export interface OpControlFlow {
  readonly p1: number;
  readonly p2: number;
}

export function encodeOpControlFlow(m: OpControlFlow): Uint8Array {
  return new WireWriter("OP_CONTROL_FLOW").u8(m.p1, "p1").u8(m.p2, "p2").finish();
}

export function decodeOpControlFlow(bytes: Uint8Array): OpControlFlow {
  const r = new WireReader(bytes, "OP_CONTROL_FLOW");
  const m = { p1: r.u8("p1"), p2: r.u8("p2") };
  r.end();
  return m;
}

/** Signaling bitmap bit 0: a KTS key attestation is stored in KeyAtt. */
export const SIGNALING_KEY_ATTESTED = 0x01;
export const MAX_ATTESTATION_LENGTH = 1024;

/**
 * SIG_BITMAP_UPDATE: the signaling bitmap, the KTS key attestation it announces (empty when
 * bit 0 is clear) and a receipt MAC under Krmac.
 */
export interface SigBitmapUpdate {
  readonly signalingBitmap: number;
  readonly keyAttestation: Uint8Array;
  readonly receiptMac: Uint8Array;
}

export function encodeSigBitmapUpdateBody(m: Omit<SigBitmapUpdate, "receiptMac">): Uint8Array {
  if (m.keyAttestation.length > MAX_ATTESTATION_LENGTH)
    throw new MessageFormatError("SIG_BITMAP_UPDATE", "keyAttestation too long");
  return new WireWriter("SIG_BITMAP_UPDATE")
    .u8(m.signalingBitmap, "signalingBitmap")
    .u16(m.keyAttestation.length, "keyAttestationLength")
    .bytes(m.keyAttestation)
    .finish();
}

export function encodeSigBitmapUpdate(m: SigBitmapUpdate): Uint8Array {
  return concatBytes(encodeSigBitmapUpdateBody(m), expectMac(m.receiptMac, "SIG_BITMAP_UPDATE"));
}

export function decodeSigBitmapUpdate(bytes: Uint8Array): SigBitmapUpdate {
  const r = new WireReader(bytes, "SIG_BITMAP_UPDATE");
  const signalingBitmap = r.u8("signalingBitmap");
  const length = r.u16("keyAttestationLength");
  if (length > MAX_ATTESTATION_LENGTH) r.fail("keyAttestation too long");
  const m = {
    signalingBitmap,
    keyAttestation: r.bytesOf(length, "keyAttestation"),
    receiptMac: r.bytesOf(MAC_LENGTH, "receiptMac"),
  };
  r.end();
  return m;
}

/** SIG_BITMAP_UPDATE.receiptMac = HMAC-SHA256(Krmac, this): label ‖ body ‖ keyId. */
export function signalingReceiptInput(body: Uint8Array, keyId: Uint8Array): Uint8Array {
  return concatBytes(utf8(OwnerLabel.signalingReceipt), body, keyId);
}

function expectMac(mac: Uint8Array, what: string): Uint8Array {
  if (mac.length !== MAC_LENGTH) throw new MessageFormatError(what, "receiptMac must be 32 bytes");
  return mac;
}
