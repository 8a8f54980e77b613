import {
  ActiveCardEvent,
  type CardMessage,
  concatBytes,
  decodeBody,
  decodeDeviceConfig,
  decodeDeviceConfigAck,
  decodeEndpointReady,
  decodeErrorFrame,
  decodeOpControlFlow,
  decodeSelectCommand,
  decodeSelectResponse,
  decodeSigBitmapUpdate,
  decodeSpake2Request,
  decodeSpake2Response,
  decodeSpake2Verify,
  decodeSpake2VerifyResponse,
  decodeTxnAuth0,
  decodeTxnAuth0Response,
  decodeTxnStart,
  decodeWrapper,
  ECDHExchangeAckSchema,
  ECDHPublicKeySchema,
  errorCodeName,
  ForgetAckSchema,
  frameTypeName,
  fromHex,
  IdentityPublicKeySchema,
  NonceResponseSchema,
  OwnerFrameType,
  PairingConfirmationSchema,
  PairkitError,
  phaseName,
  SignatureVerificationResultSchema,
  SignedNonceSchema,
  toHex,
  UserIdentitySchema,
} from "@pairkit/core";
import { COUNTER_SIZE, SEALED_OVERHEAD, TAG_SIZE } from "../framing/frame-crypto.ts";
import { FrameFlags } from "../framing/frame-header.ts";
import { FrameType } from "../framing/frame-type.ts";
import { decodeLinkParams } from "../framing/link-params.ts";
import { type AssembledMessage, Reassembler } from "../framing/reassembler.ts";
import { ACTIVE_CARD_SERVICE, OWNER_PAIRING_SERVICE } from "../gatt/uuids.ts";
import type { FrameTrace, TraceDirection, TraceEvent } from "./trace-format.ts";

export type FieldValue = string | number | boolean;

/** How a message's content is hidden from the air, if it is. */
export type Sealing =
  /** Sealed by the link under Kenc (docs/protocol.md §2.6). */
  | "link"
  /** Sealed by the standard transaction under its per-transaction keys (§3). */
  | "transaction"
  /** An Active Card wrapper whose contents are AES-GCM ciphertext (§4). */
  | "card";

/** One whole message, reassembled from the frames that carried it. */
export interface DecodedMessage {
  readonly type: number;
  /** The frame type's name, or the Active Card event inside a 0x30 wrapper. */
  readonly name: string;
  readonly frames: number;
  /** Message body length on the air, in bytes. */
  readonly length: number;
  readonly sealed?: Sealing;
  /** Decoded fields: bytes as lowercase hex, 64-bit integers as decimal strings. */
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** Why the body did not decode (the fields then hold what did). */
  readonly error?: string;
}

export type PeerKind = "vehicle" | "card" | "peripheral";

export interface DecodedEntry {
  readonly event: TraceEvent;
  /** The frame's header was rejected, or its chunk did not fit the message being reassembled. */
  readonly frameError?: string;
  /** Set on the frame that completes a message. */
  readonly message?: DecodedMessage;
}

export interface TracePeer {
  readonly link: number;
  readonly peer: string;
  readonly kind: PeerKind;
}

export interface DecodedTrace {
  readonly trace: FrameTrace;
  readonly peers: ReadonlyMap<number, TracePeer>;
  readonly entries: readonly DecodedEntry[];
}

/**
 * Reassembles a trace's frames per connection and direction, as the receiving link would, and
 * decodes each message with the protocol's own codecs. A broken frame or message is reported
 * on its entry rather than thrown: a trace of a failure is still a trace worth reading.
 */
export function decodeFrameTrace(trace: FrameTrace): DecodedTrace {
  const peers = new Map<number, TracePeer>();
  for (const event of trace.events) {
    if (event.kind === "connect")
      peers.set(event.link, { link: event.link, peer: event.peer, kind: "peripheral" });
    if (event.kind === "frame") {
      const known = peers.get(event.link);
      peers.set(event.link, {
        link: event.link,
        peer: known?.peer ?? `link ${event.link}`,
        kind: peerKind(event.service),
      });
    }
  }
  const reassemblers = new Map<string, { reassembler: Reassembler; frames: number }>();
  const entries = trace.events.map((event): DecodedEntry => {
    if (event.kind !== "frame") return { event };
    if (event.header === null) return { event, frameError: "FRAME_TOO_SHORT: no room for a header" };
    const key = `${event.link}/${event.direction}`;
    let state = reassemblers.get(key);
    if (!state) {
      state = { reassembler: new Reassembler(), frames: 0 };
      reassemblers.set(key, state);
    }
    let assembled: AssembledMessage | undefined;
    try {
      // The frame exactly as it was on the air; the reassembler checks the header as a link would.
      const { version, type, seq, totalSeq, payloadLength, flags } = event.header;
      const frame = concatBytes(
        Uint8Array.of(version, type, seq, totalSeq, payloadLength, flags),
        fromHex(event.body),
      );
      state.frames++;
      assembled = state.reassembler.push(frame);
    } catch (error) {
      state.frames = 0;
      return { event, frameError: describe(error) };
    }
    if (!assembled) return { event };
    const frames = state.frames;
    state.frames = 0;
    return { event, message: decodeMessage(assembled, frames, event.direction) };
  });
  return { trace, peers, entries };
}

function peerKind(service: string): PeerKind {
  if (service === OWNER_PAIRING_SERVICE) return "vehicle";
  if (service === ACTIVE_CARD_SERVICE) return "card";
  return "peripheral";
}

function messageTypeName(type: number): string {
  if (type === FrameType.LINK_PARAMS) return "LINK_PARAMS";
  if (type === FrameType.ACTIVE_CARD_MESSAGE) return "ACTIVE_CARD_MESSAGE";
  return frameTypeName(type);
}

function decodeMessage(message: AssembledMessage, frames: number, direction: TraceDirection): DecodedMessage {
  const { type, body } = message;
  const base = { type, name: messageTypeName(type), frames, length: body.length };
  if (message.flags & FrameFlags.ENCRYPTED) {
    if (body.length < SEALED_OVERHEAD)
      return { ...base, sealed: "link", fields: {}, error: "SEALED_TOO_SHORT" };
    return {
      ...base,
      sealed: "link",
      fields: {
        counter: new DataView(body.buffer, body.byteOffset, COUNTER_SIZE).getBigUint64(0).toString(),
        ciphertextLength: body.length - SEALED_OVERHEAD,
        tag: toHex(body.subarray(body.length - TAG_SIZE)),
      },
    };
  }
  try {
    if (type === FrameType.LINK_PARAMS) {
      return { ...base, fields: { maxFrameSize: decodeLinkParams(body).maxFrameSize ?? "unknown" } };
    }
    if (type === FrameType.ACTIVE_CARD_MESSAGE) return decodeCardMessage(base, body);
    const transactionCounter = TRANSACTION_SEALED[type];
    if (transactionCounter !== undefined) {
      return {
        ...base,
        sealed: "transaction",
        fields: { counter: transactionCounter, ciphertextLength: body.length - TAG_SIZE },
      };
    }
    const decode = OWNER_DECODERS[type];
    if (!decode) return { ...base, fields: { body: toHex(body) } };
    return { ...base, fields: decode(body, direction) };
  } catch (error) {
    return { ...base, fields: { body: toHex(body) }, error: describe(error) };
  }
}

type OwnerDecoder = (body: Uint8Array, direction: TraceDirection) => Record<string, FieldValue>;

const OWNER_DECODERS: Partial<Record<number, OwnerDecoder>> = {
  // SELECT is the command one way and its response the other (seed 001 §3).
  [OwnerFrameType.SELECT]: (body, direction) =>
    flatten(direction === "central-to-peripheral" ? decodeSelectCommand(body) : decodeSelectResponse(body)),
  [OwnerFrameType.SPAKE2_REQUEST]: (body) => flatten(decodeSpake2Request(body)),
  [OwnerFrameType.SPAKE2_RESPONSE]: (body) => flatten(decodeSpake2Response(body)),
  [OwnerFrameType.SPAKE2_VERIFY]: (body) => flatten(decodeSpake2Verify(body)),
  [OwnerFrameType.SPAKE2_VERIFY_RESPONSE]: (body) => flatten(decodeSpake2VerifyResponse(body)),
  [OwnerFrameType.DEVICE_CONFIG]: (body) => flatten(decodeDeviceConfig(body)),
  [OwnerFrameType.DEVICE_CONFIG_ACK]: (body) => flatten(decodeDeviceConfigAck(body)),
  [OwnerFrameType.ENDPOINT_READY]: (body) => flatten(decodeEndpointReady(body)),
  [OwnerFrameType.SIG_BITMAP_UPDATE]: (body) => flatten(decodeSigBitmapUpdate(body)),
  [OwnerFrameType.OP_CONTROL_FLOW]: (body) => flatten(decodeOpControlFlow(body)),
  [OwnerFrameType.TXN_START]: (body) => flatten(decodeTxnStart(body)),
  [OwnerFrameType.TXN_AUTH0]: (body) => flatten(decodeTxnAuth0(body)),
  [OwnerFrameType.TXN_AUTH0_RESPONSE]: (body) => flatten(decodeTxnAuth0Response(body)),
  [OwnerFrameType.ERROR]: (body) => {
    const e = decodeErrorFrame(body);
    return {
      phase: `${phaseName(e.phase)} (${e.phase})`,
      errorCode: `${errorCodeName(e.errorCode)} (0x${e.errorCode.toString(16).padStart(4, "0")})`,
      retryAllowed: e.retryAllowed,
      detail: e.detail,
    };
  },
};

/** The standard transaction seals these under its own keys, nonce counter 1 or 2 (docs/protocol.md §3). */
const TRANSACTION_SEALED: Partial<Record<number, number>> = {
  [OwnerFrameType.TXN_AUTH1]: 1,
  [OwnerFrameType.TXN_AUTH1_RESPONSE]: 1,
  [OwnerFrameType.TXN_RESULT]: 2,
};

const CARD_BODIES = {
  [ActiveCardEvent.NONCE_RESPONSE]: NonceResponseSchema,
  [ActiveCardEvent.SIGNED_NONCE]: SignedNonceSchema,
  [ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT]: SignatureVerificationResultSchema,
  [ActiveCardEvent.SEND_IDENTITY_PUBLIC_KEY]: IdentityPublicKeySchema,
  [ActiveCardEvent.SEND_ECDH_PUBLIC_KEY]: ECDHPublicKeySchema,
  [ActiveCardEvent.ECDH_EXCHANGE_ACK]: ECDHExchangeAckSchema,
  [ActiveCardEvent.SEND_USER_IDENTITY]: UserIdentitySchema,
  [ActiveCardEvent.PAIRING_CONFIRMATION]: PairingConfirmationSchema,
  [ActiveCardEvent.FORGET_ACK]: ForgetAckSchema,
} as const;

function decodeCardMessage(base: Omit<DecodedMessage, "fields">, body: Uint8Array): DecodedMessage {
  const wrapper = decodeWrapper(body, "session");
  const name = ActiveCardEvent[wrapper.messageType] ?? `EVENT_${wrapper.messageType}`;
  const fields: Record<string, FieldValue> = {
    messageType: `${name} (${wrapper.messageType})`,
    messageSize: wrapper.messageSize,
    sessionId: toHex(wrapper.sessionId),
    sessionStartTime: wrapper.sessionStartTime.toString(),
  };
  if (wrapper.sealed) {
    const { iv, tag } = wrapper.sealed;
    return {
      ...base,
      name,
      sealed: "card",
      fields: {
        ...fields,
        direction: iv[0]!,
        counter: new DataView(iv.buffer, iv.byteOffset + 4, 8).getBigUint64(0).toString(),
        ciphertextLength: wrapper.contents.length,
        tag: toHex(tag),
      },
    };
  }
  const schema = CARD_BODIES[wrapper.messageType as keyof typeof CARD_BODIES];
  if (!schema) return { ...base, name, fields: { ...fields, contents: toHex(wrapper.contents) } };
  const inner: CardMessage = { type: wrapper.messageType, body: wrapper.contents, encrypted: false };
  return {
    ...base,
    name,
    fields: { ...fields, ...flatten(decodeBody(schema, inner, "session"), "contents.") },
  };
}

/** Flattens a decoded message to dotted field names; protobuf bookkeeping ($typeName) is left out. */
function flatten(value: object, prefix = ""): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key.startsWith("$")) continue;
    const name = `${prefix}${key}`;
    if (v instanceof Uint8Array) out[name] = toHex(v);
    else if (typeof v === "bigint") out[name] = v.toString();
    else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[name] = v;
    else if (Array.isArray(v)) {
      out[`${name}.length`] = v.length;
      v.forEach((item, i) => {
        Object.assign(
          out,
          typeof item === "object" ? flatten(item as object, `${name}[${i}].`) : { [`${name}[${i}]`]: item },
        );
      });
    } else if (typeof v === "object" && v !== null) Object.assign(out, flatten(v, `${name}.`));
  }
  return out;
}

function describe(error: unknown): string {
  if (error instanceof PairkitError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
