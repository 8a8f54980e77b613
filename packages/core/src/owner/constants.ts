import type { FrameErrorCode } from "../ports/frame-error.ts";

/** Frame types of owner pairing (seed 001 §2) and of the standard transaction (docs/protocol.md §3). */
export const OwnerFrameType = {
  SELECT: 0x01,
  SPAKE2_REQUEST: 0x02,
  SPAKE2_RESPONSE: 0x03,
  SPAKE2_VERIFY: 0x04,
  SPAKE2_VERIFY_RESPONSE: 0x05,
  DEVICE_CONFIG: 0x06,
  DEVICE_CONFIG_ACK: 0x07,
  ENDPOINT_READY: 0x08,
  SIG_BITMAP_UPDATE: 0x09,
  OP_CONTROL_FLOW: 0x0a,
  TXN_START: 0x10,
  TXN_AUTH0: 0x11,
  TXN_AUTH0_RESPONSE: 0x12,
  TXN_AUTH1: 0x13,
  TXN_AUTH1_RESPONSE: 0x14,
  TXN_RESULT: 0x15,
  ERROR: 0x7f,
} as const;
export type OwnerFrameType = (typeof OwnerFrameType)[keyof typeof OwnerFrameType];

export function frameTypeName(type: number): string {
  for (const [name, value] of Object.entries(OwnerFrameType)) if (value === type) return name;
  return `0x${type.toString(16).padStart(2, "0")}`;
}

/** ErrorFrame.phase (seed 001 §3), plus 5 for the standard transaction. */
export const OwnerPhase = { SPAKE2: 1, CONFIG: 2, ENDPOINT: 3, FINALIZE: 4, TRANSACTION: 5 } as const;
export type OwnerPhase = (typeof OwnerPhase)[keyof typeof OwnerPhase];
export type OwnerPhaseName = "spake2" | "config" | "endpoint" | "finalize" | "transaction";

export function phaseName(phase: number): OwnerPhaseName {
  switch (phase) {
    case OwnerPhase.SPAKE2:
      return "spake2";
    case OwnerPhase.CONFIG:
      return "config";
    case OwnerPhase.ENDPOINT:
      return "endpoint";
    case OwnerPhase.FINALIZE:
      return "finalize";
    default:
      return "transaction";
  }
}

/** ErrorFrame.errorCode values (docs/protocol.md §3.9). Stable: peers branch on them. */
export const OwnerErrorCode = {
  UNSUPPORTED_VERSION: 0x0001,
  NO_PAIRING_SESSION: 0x0002,
  VERIFIER_EXPIRED: 0x0003,
  ATTEMPTS_EXHAUSTED: 0x0004,
  BUSY: 0x0005,
  CONFIRMATION_FAILED: 0x0006,
  INVALID_POINT: 0x0007,
  MALFORMED_MESSAGE: 0x0008,
  UNEXPECTED_MESSAGE: 0x0009,
  TIMEOUT: 0x000a,
  POLICY_DIGEST_MISMATCH: 0x000b,
  POLICY_REJECTED: 0x000c,
  CERTIFICATE_INVALID: 0x000d,
  CONFIG_DIGEST_MISMATCH: 0x000e,
  ENDPOINT_FAILED: 0x000f,
  RECEIPT_INVALID: 0x0010,
  ATTESTATION_INVALID: 0x0011,
  ABORTED: 0x0012,
  /** Local only: the link went away; never sent, there is no one to send it to. */
  DISCONNECTED: 0x0013,
  KEY_SLOTS_FULL: 0x0014,
  INVALID_SCRYPT_PARAMS: 0x0015,
  UNKNOWN_ENDPOINT: 0x0020,
  SIGNATURE_INVALID: 0x0021,
  DECRYPTION_FAILED: 0x0022,
  ATTESTATION_REQUIRED: 0x0023,
  // The link's own rejections (docs/protocol.md §2.2–§2.6), named as the link names them (`FrameError`).
  FRAME_TOO_SHORT: 0x0030,
  BAD_VERSION: 0x0031,
  UNKNOWN_TYPE: 0x0032,
  BAD_TOTAL_SEQ: 0x0033,
  SEQ_OUT_OF_RANGE: 0x0034,
  LENGTH_MISMATCH: 0x0035,
  RESERVED_FLAGS: 0x0036,
  EMPTY_CHUNK: 0x0037,
  DUPLICATE_CHUNK: 0x0038,
  MISSING_CHUNK: 0x0039,
  HEADER_CHANGED: 0x003a,
  MESSAGE_TOO_LARGE: 0x003b,
  CHUNK_TIMEOUT: 0x003c,
  BAD_FRAME_SIZE: 0x003d,
  BAD_LINK_PARAMS: 0x003e,
  NOT_SECURED: 0x003f,
  NOT_ENCRYPTED: 0x0040,
  ALREADY_SECURED: 0x0041,
  SEALED_TOO_SHORT: 0x0042,
  REPLAYED_COUNTER: 0x0043,
  COUNTER_GAP: 0x0044,
  COUNTER_EXHAUSTED: 0x0045,
  INTERNAL: 0x00ff,
} as const satisfies Record<string, number> & Record<FrameErrorCode, number>;
export type OwnerErrorCode = (typeof OwnerErrorCode)[keyof typeof OwnerErrorCode];

export function errorCodeName(code: number): string {
  for (const [name, value] of Object.entries(OwnerErrorCode)) if (value === code) return name;
  return `ERROR_0x${code.toString(16).padStart(4, "0")}`;
}

/** SPAKE2_VERIFY.policyFlags bits (DESIGN.md); the reserved bits must be zero. */
export const PolicyFlag = {
  PIN_TO_DRIVE: 0x01,
  AUTO_REVOKE_ON_TIMEOUT: 0x02,
  ATTESTATION_REQUIRED: 0x04,
} as const;
export const POLICY_FLAGS_KNOWN = 0x07;

/** Seed 001 §2 timeouts, in milliseconds. The 5 s missing-chunk cut-off lives in the BLE framing layer. */
export const OwnerTimeouts = {
  response: 5_000,
  spake2: 20_000,
  config: 30_000,
} as const;

export const OWNER_PROTOCOL_VERSION = 0x01;
export const APPLET_VERSION = { major: 1, minor: 0 } as const;
export const PAIRING_MODE_OWNER_PASSWORD = 0x02;
/** SelectResponse.capabilities bit 0: BLE; NFC bits stay clear (seed 001 §3). */
export const CAPABILITY_BLE = 0x01;

export const NONCE_LENGTH = 16;
export const KEY_ID_LENGTH = 16;
export const DIGEST_LENGTH = 32;
export const MAC_LENGTH = 32;

/** Labels that domain-separate every MAC, signature and derivation of owner pairing. */
export const OwnerLabel = {
  spake2Context: "pairkit/owner/v1/spake2plus",
  policyDigest: "pairkit/owner/v1/policy-digest",
  endpointReceipt: "pairkit/owner/v1/endpoint-ready",
  signalingReceipt: "pairkit/owner/v1/sig-bitmap-update",
  advertisement: "pairkit/owner/v1/advertisement",
  keyAttestation: "pairkit/kts/v1/key-attestation",
  txnKeys: "pairkit/owner/v1/transaction-keys",
  txnVehicleSignature: "pairkit/owner/v1/transaction/vehicle",
  txnDeviceSignature: "pairkit/owner/v1/transaction/device",
} as const;

/** OP_CONTROL_FLOW p1/p2 (seed 001 §1.6). */
export const ControlFlow = { END: 0x01, SUCCESS: 0x90, FAILURE: 0x91 } as const;
