import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { CARD_SESSION_ID_LENGTH } from "../crypto/session-keys.ts";
import { type CardPhase, CardProtocolError } from "./errors.ts";
import {
  ActiveCardEvent,
  type TransportMessageWrapper,
  TransportMessageWrapperSchema,
} from "./gen/pairkit/activecard/v1/active_card_pb.ts";

/** The Link message type that carries one serialized TransportMessageWrapper (docs §2 reserves it). */
export const CARD_LINK_MESSAGE_TYPE = 0x30;
/** Largest serialized wrapper either side accepts; the largest legitimate one (a 2-of-3 MPC_DKG_START) is under 500 bytes. */
export const CARD_MAX_WRAPPER_BYTES = 1024;
export const CARD_IV_LENGTH = 12;
export const CARD_TAG_LENGTH = 16;

/** The fields of a wrapper this module produces and checks; the codec fills iv_len/tag_len. */
export interface WrapperFields {
  readonly messageType: ActiveCardEvent;
  readonly messageSize: number;
  readonly sessionId: Uint8Array;
  readonly sessionStartTime: bigint;
  readonly contents: Uint8Array;
  /** Present exactly when the message is encrypted. */
  readonly sealed?: { readonly iv: Uint8Array; readonly tag: Uint8Array };
}

export function encodeWrapper(fields: WrapperFields): Uint8Array {
  const wrapper = create(TransportMessageWrapperSchema, {
    messageType: fields.messageType,
    messageSize: fields.messageSize,
    sessionId: fields.sessionId,
    sessionStartTime: fields.sessionStartTime,
    contents: fields.contents,
    isEncrypted: fields.sealed !== undefined,
    ivLen: fields.sealed ? CARD_IV_LENGTH : 0,
    tagLen: fields.sealed ? CARD_TAG_LENGTH : 0,
    iv: fields.sealed?.iv ?? new Uint8Array(0),
    tag: fields.sealed?.tag ?? new Uint8Array(0),
  });
  return toBinary(TransportMessageWrapperSchema, wrapper);
}

/**
 * Parses one wrapper from the wire and checks everything that does not need session state:
 * size bound, protobuf well-formedness, a known message type, a 16-byte session_id, and
 * consistent encryption fields (docs §4.2).
 */
export function decodeWrapper(bytes: Uint8Array, phase: CardPhase): WrapperFields {
  if (bytes.length > CARD_MAX_WRAPPER_BYTES) {
    throw new CardProtocolError(
      "OVERSIZE_MESSAGE",
      phase,
      `wrapper of ${bytes.length} bytes exceeds ${CARD_MAX_WRAPPER_BYTES}`,
    );
  }
  let wrapper: TransportMessageWrapper;
  try {
    wrapper = fromBinary(TransportMessageWrapperSchema, bytes, { readUnknownFields: false });
  } catch (cause) {
    throw new CardProtocolError("MALFORMED_MESSAGE", phase, "wrapper is not valid protobuf", { cause });
  }
  const type = wrapper.messageType;
  if (!(type >= ActiveCardEvent.NONCE_REQUEST && type <= ActiveCardEvent.MPC_REFUSED)) {
    throw new CardProtocolError("UNKNOWN_MESSAGE_TYPE", phase, `unknown message_type ${type}`);
  }
  if (wrapper.sessionId.length !== CARD_SESSION_ID_LENGTH) {
    throw malformed(phase, "session_id is not 16 bytes");
  }
  if (wrapper.contents.length !== wrapper.messageSize) {
    throw malformed(phase, "message_size differs from contents");
  }
  const fields = {
    messageType: type,
    messageSize: wrapper.messageSize,
    sessionId: wrapper.sessionId,
    sessionStartTime: wrapper.sessionStartTime,
    contents: wrapper.contents,
  };
  if (!wrapper.isEncrypted) {
    if (wrapper.ivLen || wrapper.tagLen || wrapper.iv.length || wrapper.tag.length) {
      throw malformed(phase, "iv or tag on a plaintext message");
    }
    return fields;
  }
  if (wrapper.ivLen !== CARD_IV_LENGTH || wrapper.iv.length !== CARD_IV_LENGTH)
    throw malformed(phase, "iv length");
  if (wrapper.tagLen !== CARD_TAG_LENGTH || wrapper.tag.length !== CARD_TAG_LENGTH) {
    throw malformed(phase, "tag length");
  }
  return { ...fields, sealed: { iv: wrapper.iv, tag: wrapper.tag } };
}

function malformed(phase: CardPhase, why: string): CardProtocolError {
  return new CardProtocolError("MALFORMED_MESSAGE", phase, `wrapper: ${why}`);
}

/**
 * AES-GCM additional data of an encrypted wrapper (44 bytes): message_type (u32 BE) ‖
 * message_size (u32 BE) ‖ session_id (16) ‖ session_start_time (u64 BE) ‖ iv (12).
 * is_encrypted, iv_len and tag_len have one legal value on an encrypted message, so they
 * are checked rather than authenticated.
 */
export function wrapperAad(
  fields: Pick<WrapperFields, "messageType" | "messageSize" | "sessionId" | "sessionStartTime">,
  iv: Uint8Array,
): Uint8Array {
  const aad = new Uint8Array(4 + 4 + CARD_SESSION_ID_LENGTH + 8 + CARD_IV_LENGTH);
  const view = new DataView(aad.buffer);
  view.setUint32(0, fields.messageType);
  view.setUint32(4, fields.messageSize);
  aad.set(fields.sessionId, 8);
  view.setBigUint64(24, fields.sessionStartTime);
  aad.set(iv, 32);
  return aad;
}

/** The last counter a direction may seal under (docs/protocol.md §4.3). */
export const CARD_MAX_COUNTER = 2n ** 64n - 1n;

/**
 * GCM nonce / wrapper iv: direction (1) ‖ 00 00 00 ‖ counter (u64 BE). A counter past 2⁶⁴ − 1
 * is refused (COUNTER_EXHAUSTED): DataView would silently wrap it to 0, a repeated nonce.
 */
export function cardIv(direction: number, counter: bigint): Uint8Array {
  if (counter < 0n || counter > CARD_MAX_COUNTER) {
    throw new CardProtocolError(
      "COUNTER_EXHAUSTED",
      "session",
      "message counter exhausted; start a new session",
    );
  }
  const iv = new Uint8Array(CARD_IV_LENGTH);
  iv[0] = direction;
  new DataView(iv.buffer).setBigUint64(4, counter);
  return iv;
}
