import { concatBytes, constantTimeEqual, utf8 } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { POINT_LENGTH } from "../crypto/p256.ts";
import { KEY_ID_LENGTH, MAC_LENGTH, NONCE_LENGTH, OwnerLabel } from "./constants.ts";
import { MAX_DESCRIPTOR_LENGTH } from "./descriptor.ts";
import { MessageFormatError, WireReader, WireWriter } from "./wire.ts";

/** DEVICE_CONFIG (seed 001 §3): header, vehicle id, CBOR descriptor, TLV mailbox, authorized keys, policyDigest. */

export interface AuthorizedKey {
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly roleFlags: number;
}

export interface DeviceConfig {
  readonly vehicleId: Uint8Array;
  /** Encoded CBOR; parse with `decodeDescriptor` only after the policyDigest checks out. */
  readonly descriptor: Uint8Array;
  /** Encoded TLV; parse with `decodeMailbox` only after the policyDigest checks out. */
  readonly mailbox: Uint8Array;
  readonly authorizedKeys: readonly AuthorizedKey[];
  readonly policyDigest: Uint8Array;
}

export const MAX_VEHICLE_ID_LENGTH = 64;
export const MAX_MAILBOX_LENGTH = 255;
export const MAX_AUTHORIZED_KEYS = 16;
const AUTHORIZED_KEY_LENGTH = KEY_ID_LENGTH + POINT_LENGTH + 1;

function checkBounds(what: string, m: Omit<DeviceConfig, "policyDigest">): void {
  const bad = (reason: string): never => {
    throw new MessageFormatError(what, reason);
  };
  if (m.vehicleId.length < 1 || m.vehicleId.length > MAX_VEHICLE_ID_LENGTH)
    bad("vehicleIdLength out of range");
  if (m.descriptor.length < 1 || m.descriptor.length > MAX_DESCRIPTOR_LENGTH)
    bad("descriptorLength out of range");
  if (m.mailbox.length < 1 || m.mailbox.length > MAX_MAILBOX_LENGTH) bad("mailboxLength out of range");
  if (m.authorizedKeys.length > MAX_AUTHORIZED_KEYS) bad("authorizedKeyCount out of range");
}

/** Everything before policyDigest: the bytes the digest authenticates. */
export function encodeDeviceConfigBody(m: Omit<DeviceConfig, "policyDigest">): Uint8Array {
  checkBounds("DEVICE_CONFIG", m);
  const w = new WireWriter("DEVICE_CONFIG")
    .u16(m.vehicleId.length)
    .u16(m.descriptor.length)
    .u16(m.mailbox.length)
    .u16(m.authorizedKeys.length)
    .bytes(m.vehicleId)
    .bytes(m.descriptor)
    .bytes(m.mailbox);
  for (const key of m.authorizedKeys) {
    w.bytes(key.keyId, KEY_ID_LENGTH, "keyId").bytes(key.publicKey, POINT_LENGTH, "publicKey");
    w.u8(key.roleFlags, "roleFlags");
  }
  return w.finish();
}

export function encodeDeviceConfig(m: DeviceConfig): Uint8Array {
  return new WireWriter("DEVICE_CONFIG")
    .bytes(encodeDeviceConfigBody(m))
    .bytes(m.policyDigest, MAC_LENGTH, "policyDigest")
    .finish();
}

export function decodeDeviceConfig(bytes: Uint8Array): DeviceConfig {
  const r = new WireReader(bytes, "DEVICE_CONFIG");
  const vehicleIdLength = r.u16("vehicleIdLength");
  const descriptorLength = r.u16("descriptorLength");
  const mailboxLength = r.u16("mailboxLength");
  const keyCount = r.u16("authorizedKeyCount");
  const expected =
    8 + vehicleIdLength + descriptorLength + mailboxLength + keyCount * AUTHORIZED_KEY_LENGTH + 32;
  if (bytes.length !== expected) r.fail("lengths in the header do not match the message length");
  const m = {
    vehicleId: r.bytesOf(vehicleIdLength, "vehicleId"),
    descriptor: r.bytesOf(descriptorLength, "descriptor"),
    mailbox: r.bytesOf(mailboxLength, "mailbox"),
    authorizedKeys: Array.from({ length: keyCount }, () => ({
      keyId: r.bytesOf(KEY_ID_LENGTH, "keyId"),
      publicKey: r.bytesOf(POINT_LENGTH, "publicKey"),
      roleFlags: r.u8("roleFlags"),
    })),
    policyDigest: r.bytesOf(MAC_LENGTH, "policyDigest"),
  };
  r.end();
  checkBounds("DEVICE_CONFIG", m);
  return m;
}

/**
 * policyDigest = HMAC-SHA256(Kmac, label ‖ policyFlags ‖ vehicleEntropy ‖ config body).
 * SPAKE2_VERIFY's policyFlags and vehicleEntropy are not covered by confirmV, so they are bound here.
 */
export function computePolicyDigest(
  crypto: Crypto,
  kmac: Uint8Array,
  binding: { readonly policyFlags: number; readonly vehicleEntropy: Uint8Array },
  body: Uint8Array,
): Uint8Array {
  if (binding.vehicleEntropy.length !== NONCE_LENGTH)
    throw new MessageFormatError("policyDigest", "vehicleEntropy must be 16 bytes");
  const input = concatBytes(
    utf8(OwnerLabel.policyDigest),
    Uint8Array.of(binding.policyFlags & 0xff),
    binding.vehicleEntropy,
    body,
  );
  return crypto.hmacSha256(kmac, input);
}

/** Checks the digest over the received bytes themselves (never a re-encoding), in constant time. */
export function verifyPolicyDigest(
  crypto: Crypto,
  kmac: Uint8Array,
  binding: { readonly policyFlags: number; readonly vehicleEntropy: Uint8Array },
  payload: Uint8Array,
): boolean {
  if (payload.length < MAC_LENGTH) return false;
  const body = payload.subarray(0, payload.length - MAC_LENGTH);
  const expected = computePolicyDigest(crypto, kmac, binding, body);
  return constantTimeEqual(expected, payload.subarray(payload.length - MAC_LENGTH));
}
