import { type Crypto, concatBytes, InvalidLengthError, wipe } from "@pairkit/core";
import { FrameError } from "./frame-error.ts";
import { FRAME_VERSION } from "./frame-header.ts";

export type LinkRole = "central" | "peripheral";

/**
 * First nonce byte: which way a message travels. Both directions share Kenc, so without it a
 * message could be reflected back to its sender and would decrypt there.
 */
export const Direction = {
  CENTRAL_TO_PERIPHERAL: 0x01,
  PERIPHERAL_TO_CENTRAL: 0x02,
} as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

export const COUNTER_SIZE = 8;
export const TAG_SIZE = 16;
/** Bytes a sealed message adds to its plaintext: the explicit counter and the GCM tag. */
export const SEALED_OVERHEAD = COUNTER_SIZE + TAG_SIZE;
const MAX_COUNTER = 2n ** 64n - 1n;

/** The direction a role sends in. */
export function sendDirection(role: LinkRole): Direction {
  return role === "central" ? Direction.CENTRAL_TO_PERIPHERAL : Direction.PERIPHERAL_TO_CENTRAL;
}

/** The direction a role receives in. */
export function receiveDirection(role: LinkRole): Direction {
  return role === "central" ? Direction.PERIPHERAL_TO_CENTRAL : Direction.CENTRAL_TO_PERIPHERAL;
}

/** The header fields every frame of a sealed message repeats; all are authenticated as AAD. */
export interface SealedMessageFields {
  readonly type: number;
  readonly totalSeq: number;
  readonly flags: number;
}

/**
 * Seals whole messages in one direction (docs/protocol.md §2.6): AES-GCM under Kenc (32 bytes,
 * AES-256, in the rfc9383 profile; 16 bytes, AES-128, in the ccc profile),
 * nonce = direction ‖ 00 00 00 ‖ counter (8 bytes, big-endian), AAD = version ‖ type ‖
 * totalSeq ‖ flags ‖ counter; output counter ‖ ciphertext ‖ tag. Sealing per message rather
 * than per frame is what lets a 20-byte frame (ATT MTU 23) carry any ciphertext at all.
 * The counter starts at 0 and never repeats: at 2^64 − 1 the sealer refuses to go on.
 */
export class MessageSealer {
  readonly #crypto: Crypto;
  readonly #key: Uint8Array;
  readonly #direction: Direction;
  #counter: bigint;

  constructor(crypto: Crypto, key: Uint8Array, direction: Direction, firstCounter = 0n) {
    this.#crypto = crypto;
    this.#key = copyKenc(key);
    this.#direction = direction;
    this.#counter = firstCounter;
  }

  seal(fields: SealedMessageFields, plaintext: Uint8Array): Uint8Array {
    const counter = this.#counter;
    if (counter > MAX_COUNTER) {
      throw new FrameError("COUNTER_EXHAUSTED", "message counter exhausted; re-pair to get a new key");
    }
    const counterBytes = encodeCounter(counter);
    const sealed = this.#crypto.aesGcmEncrypt(
      this.#key,
      nonce(this.#direction, counterBytes),
      plaintext,
      aad(fields, counterBytes),
    );
    this.#counter = counter + 1n;
    return concatBytes(counterBytes, sealed);
  }

  destroy(): void {
    wipe(this.#key);
  }
}

/**
 * Opens messages sealed by the peer's {@link MessageSealer}. Accepts exactly the next counter:
 * a lower one is a replay, a higher one means a message went missing or arrived out of order.
 * The counter advances only when the tag verifies, so a rejected message changes nothing.
 */
export class MessageOpener {
  readonly #crypto: Crypto;
  readonly #key: Uint8Array;
  readonly #direction: Direction;
  #expected: bigint;

  constructor(crypto: Crypto, key: Uint8Array, direction: Direction, firstCounter = 0n) {
    this.#crypto = crypto;
    this.#key = copyKenc(key);
    this.#direction = direction;
    this.#expected = firstCounter;
  }

  /** Throws {@link FrameError} for a short body or a wrong counter, `DecryptionError` for a bad tag. */
  open(fields: SealedMessageFields, body: Uint8Array): Uint8Array {
    if (body.length < SEALED_OVERHEAD) {
      throw new FrameError("SEALED_TOO_SHORT", `sealed message of ${body.length} bytes`);
    }
    const counterBytes = body.subarray(0, COUNTER_SIZE);
    const counter = decodeCounter(counterBytes);
    if (counter < this.#expected) {
      throw new FrameError(
        "REPLAYED_COUNTER",
        `counter ${counter} already used (expected ${this.#expected})`,
      );
    }
    if (counter > this.#expected) {
      throw new FrameError("COUNTER_GAP", `counter ${counter} skips ahead of ${this.#expected}`);
    }
    const plaintext = this.#crypto.aesGcmDecrypt(
      this.#key,
      nonce(this.#direction, counterBytes),
      body.subarray(COUNTER_SIZE),
      aad(fields, counterBytes),
    );
    this.#expected = counter + 1n;
    return plaintext;
  }

  destroy(): void {
    wipe(this.#key);
  }
}

function encodeCounter(counter: bigint): Uint8Array {
  const bytes = new Uint8Array(COUNTER_SIZE);
  new DataView(bytes.buffer).setBigUint64(0, counter);
  return bytes;
}

function decodeCounter(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, COUNTER_SIZE).getBigUint64(0);
}

function nonce(direction: Direction, counterBytes: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(direction, 0, 0, 0), counterBytes);
}

function aad(fields: SealedMessageFields, counterBytes: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(FRAME_VERSION, fields.type, fields.totalSeq, fields.flags), counterBytes);
}

function copyKenc(key: Uint8Array): Uint8Array {
  if (key.length !== 32 && key.length !== 16) throw new InvalidLengthError("Kenc", "32 or 16", key.length);
  return new Uint8Array(key); // a copy even of a Buffer, so destroy() wipes ours, not the caller's
}
