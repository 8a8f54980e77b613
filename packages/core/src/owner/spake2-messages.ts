import type { ScryptParams } from "../crypto/crypto.ts";
import { POINT_LENGTH } from "../crypto/p256.ts";
import { SALT_LENGTH } from "../crypto/password.ts";
import { NONCE_LENGTH } from "./constants.ts";
import { MessageFormatError, WireReader, WireWriter } from "./wire.ts";

/** Phase 2 messages (seed 001 §3): SELECT, SPAKE2_REQUEST/RESPONSE/VERIFY/VERIFY_RESPONSE. */

export const MAX_DEVICE_ID_LENGTH = 64;
export const MAX_CAPABILITIES_LENGTH = 16;
const EVIDENCE_LENGTH = 32;

/** SELECT command (device → vehicle); carries the device id the vehicle uses as SPAKE2+ idProver. */
export interface SelectCommand {
  readonly protocolVersion: number;
  readonly pairingMode: number;
  readonly deviceId: Uint8Array;
}

export function encodeSelectCommand(m: SelectCommand): Uint8Array {
  if (m.deviceId.length < 1 || m.deviceId.length > MAX_DEVICE_ID_LENGTH)
    throw new MessageFormatError("SELECT", `deviceId must be 1–${MAX_DEVICE_ID_LENGTH} bytes`);
  return new WireWriter("SELECT")
    .u8(m.protocolVersion, "protocolVersion")
    .u8(m.pairingMode, "pairingMode")
    .u8(m.deviceId.length, "deviceIdLength")
    .bytes(m.deviceId)
    .finish();
}

export function decodeSelectCommand(bytes: Uint8Array): SelectCommand {
  const r = new WireReader(bytes, "SELECT");
  const protocolVersion = r.u8("protocolVersion");
  const pairingMode = r.u8("pairingMode");
  const length = r.u8("deviceIdLength");
  if (length < 1 || length > MAX_DEVICE_ID_LENGTH) r.fail(`deviceIdLength must be 1–${MAX_DEVICE_ID_LENGTH}`);
  const deviceId = r.bytesOf(length, "deviceId");
  r.end();
  return { protocolVersion, pairingMode, deviceId };
}

export interface SelectResponse {
  readonly appletVersionMajor: number;
  readonly appletVersionMinor: number;
  readonly protocolVersion: number;
  readonly pairingMode: number;
  readonly capabilities: Uint8Array;
}

export function encodeSelectResponse(m: SelectResponse): Uint8Array {
  if (m.capabilities.length < 1 || m.capabilities.length > MAX_CAPABILITIES_LENGTH)
    throw new MessageFormatError("SELECT response", "capabilities must be 1–16 bytes");
  return new WireWriter("SELECT response")
    .u8(m.appletVersionMajor, "appletVersionMajor")
    .u8(m.appletVersionMinor, "appletVersionMinor")
    .u8(m.protocolVersion, "protocolVersion")
    .u8(m.pairingMode, "pairingMode")
    .bytes(m.capabilities)
    .finish();
}

export function decodeSelectResponse(bytes: Uint8Array): SelectResponse {
  const r = new WireReader(bytes, "SELECT response");
  const m = {
    appletVersionMajor: r.u8("appletVersionMajor"),
    appletVersionMinor: r.u8("appletVersionMinor"),
    protocolVersion: r.u8("protocolVersion"),
    pairingMode: r.u8("pairingMode"),
    capabilities: r.rest(),
  };
  if (m.capabilities.length < 1 || m.capabilities.length > MAX_CAPABILITIES_LENGTH)
    r.fail("capabilities must be 1–16 bytes");
  return m;
}

export interface Spake2Request {
  readonly version: number;
  readonly attemptRemaining: number;
  readonly salt: Uint8Array;
  readonly scrypt: ScryptParams;
  readonly vehicleNonce: Uint8Array;
}

export const SPAKE2_REQUEST_LENGTH = 2 + SALT_LENGTH + 12 + NONCE_LENGTH;

export function encodeSpake2Request(m: Spake2Request): Uint8Array {
  return new WireWriter("SPAKE2_REQUEST")
    .u8(m.version, "version")
    .u8(m.attemptRemaining, "attemptRemaining")
    .bytes(m.salt, SALT_LENGTH, "salt")
    .u32(m.scrypt.N, "scryptN")
    .u32(m.scrypt.r, "scryptR")
    .u32(m.scrypt.p, "scryptP")
    .bytes(m.vehicleNonce, NONCE_LENGTH, "vehicleNonce")
    .finish();
}

export function decodeSpake2Request(bytes: Uint8Array): Spake2Request {
  const r = new WireReader(bytes, "SPAKE2_REQUEST");
  const m = {
    version: r.u8("version"),
    attemptRemaining: r.u8("attemptRemaining"),
    salt: r.bytesOf(SALT_LENGTH, "salt"),
    scrypt: { N: r.u32("scryptN"), r: r.u32("scryptR"), p: r.u32("scryptP") },
    vehicleNonce: r.bytesOf(NONCE_LENGTH, "vehicleNonce"),
  };
  r.end();
  return m;
}

export interface Spake2Response {
  readonly pointX: Uint8Array;
  readonly deviceNonce: Uint8Array;
}

export function encodeSpake2Response(m: Spake2Response): Uint8Array {
  return new WireWriter("SPAKE2_RESPONSE")
    .bytes(m.pointX, POINT_LENGTH, "pointX")
    .bytes(m.deviceNonce, NONCE_LENGTH, "deviceNonce")
    .finish();
}

export function decodeSpake2Response(bytes: Uint8Array): Spake2Response {
  const r = new WireReader(bytes, "SPAKE2_RESPONSE");
  const m = {
    pointX: r.bytesOf(POINT_LENGTH, "pointX"),
    deviceNonce: r.bytesOf(NONCE_LENGTH, "deviceNonce"),
  };
  r.end();
  return m;
}

export interface Spake2Verify {
  readonly pointY: Uint8Array;
  /** confirmV of RFC 9383 (the seed's M_V). */
  readonly evidence: Uint8Array;
  readonly policyFlags: number;
  readonly vehicleEntropy: Uint8Array;
}

export function encodeSpake2Verify(m: Spake2Verify): Uint8Array {
  return new WireWriter("SPAKE2_VERIFY")
    .bytes(m.pointY, POINT_LENGTH, "pointY")
    .bytes(m.evidence, EVIDENCE_LENGTH, "evidence")
    .u8(m.policyFlags, "policyFlags")
    .bytes(m.vehicleEntropy, NONCE_LENGTH, "vehicleEntropy")
    .finish();
}

export function decodeSpake2Verify(bytes: Uint8Array): Spake2Verify {
  const r = new WireReader(bytes, "SPAKE2_VERIFY");
  const m = {
    pointY: r.bytesOf(POINT_LENGTH, "pointY"),
    evidence: r.bytesOf(EVIDENCE_LENGTH, "evidence"),
    policyFlags: r.u8("policyFlags"),
    vehicleEntropy: r.bytesOf(NONCE_LENGTH, "vehicleEntropy"),
  };
  r.end();
  return m;
}

/** SPAKE2_VERIFY_RESPONSE: confirmP of RFC 9383 (the seed's M_D). */
export interface Spake2VerifyResponse {
  readonly evidence: Uint8Array;
}

export function encodeSpake2VerifyResponse(m: Spake2VerifyResponse): Uint8Array {
  return new WireWriter("SPAKE2_VERIFY_RESPONSE").bytes(m.evidence, EVIDENCE_LENGTH, "evidence").finish();
}

export function decodeSpake2VerifyResponse(bytes: Uint8Array): Spake2VerifyResponse {
  const r = new WireReader(bytes, "SPAKE2_VERIFY_RESPONSE");
  const m = { evidence: r.bytesOf(EVIDENCE_LENGTH, "evidence") };
  r.end();
  return m;
}
