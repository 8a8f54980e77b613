import { type CardChannel, type CardMessage, decodeBody } from "./channel.ts";
import { type CardPhase, CardProtocolError, CardRefusedError } from "./errors.ts";
import {
  ActiveCardEvent,
  ECDHExchangeAckSchema,
  ForgetAckSchema,
  MpcRefusedSchema,
  PairingConfirmationSchema,
  SignatureVerificationResultSchema,
} from "./gen/pairkit/activecard/v1/active_card_pb.ts";

/**
 * The failure message of each phase (docs/protocol.md §4.8, one table for both roles): the
 * side whose check fails on a message of that phase sends it — sealed iff it already holds the
 * session key — and ends the session. The established session outside binding and forget has
 * none: nothing the peer sent awaits an answer.
 */
export const FAILURE_MESSAGE: Record<CardPhase, ActiveCardEvent | undefined> = {
  challenge: ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT,
  ecdh: ActiveCardEvent.ECDH_EXCHANGE_ACK,
  binding: ActiveCardEvent.PAIRING_CONFIRMATION,
  forget: ActiveCardEvent.FORGET_ACK,
  session: undefined,
  mpc: ActiveCardEvent.MPC_REFUSED,
};

/**
 * Answers `error` as §4.8 says, if it calls for an answer: a failed check of ours does, the
 * peer's refusal does not (no ping-pong), nor does a timeout or a dropped link (nobody to tell).
 * Best effort: the session ends either way.
 */
export async function answerFailure(channel: CardChannel, error: unknown): Promise<void> {
  if (!(error instanceof CardProtocolError) || error instanceof CardRefusedError) return;
  // A step-2 signature that does not verify is WRONG_CARD to the phone, BAD_SIGNATURE on the wire (§4.4).
  const reason = error.code === "WRONG_CARD" ? "BAD_SIGNATURE" : error.code;
  await sendFailure(channel, error.phase as CardPhase, reason).catch(() => {});
}

/** Sends the failure message of `phase` with `code` as reason, where the phase has one. */
async function sendFailure(channel: CardChannel, phase: CardPhase, code: string): Promise<void> {
  switch (FAILURE_MESSAGE[phase]) {
    case ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT:
      return channel.send(ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT, SignatureVerificationResultSchema, {
        valid: false,
        reason: code,
      });
    case ActiveCardEvent.ECDH_EXCHANGE_ACK:
      return channel.send(ActiveCardEvent.ECDH_EXCHANGE_ACK, ECDHExchangeAckSchema, {
        success: false,
        reason: code,
      });
    case ActiveCardEvent.PAIRING_CONFIRMATION:
      return channel.send(ActiveCardEvent.PAIRING_CONFIRMATION, PairingConfirmationSchema, {
        confirmed: false,
      });
    case ActiveCardEvent.FORGET_ACK:
      return channel.send(ActiveCardEvent.FORGET_ACK, ForgetAckSchema, { erased: false });
    case ActiveCardEvent.MPC_REFUSED:
      return channel.send(ActiveCardEvent.MPC_REFUSED, MpcRefusedSchema, { reason: code });
  }
}

/**
 * The refusal carried by `message` if it is any failure message with its flag false: at every
 * step a failure message is the peer's refusal, which ends the session without an answer.
 */
export function refusalIn(message: CardMessage, phase: CardPhase): CardRefusedError | undefined {
  switch (message.type) {
    case ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT: {
      const result = decodeBody(SignatureVerificationResultSchema, message, phase);
      return result.valid ? undefined : new CardRefusedError(phase, result.reason);
    }
    case ActiveCardEvent.ECDH_EXCHANGE_ACK: {
      const ack = decodeBody(ECDHExchangeAckSchema, message, phase);
      return ack.success ? undefined : new CardRefusedError(phase, ack.reason);
    }
    case ActiveCardEvent.PAIRING_CONFIRMATION:
      return decodeBody(PairingConfirmationSchema, message, phase).confirmed
        ? undefined
        : new CardRefusedError(phase, "");
    case ActiveCardEvent.FORGET_ACK:
      return decodeBody(ForgetAckSchema, message, phase).erased ? undefined : new CardRefusedError(phase, "");
    case ActiveCardEvent.MPC_REFUSED:
      return new CardRefusedError(phase, decodeBody(MpcRefusedSchema, message, phase).reason);
  }
  return undefined;
}

/**
 * Receives the next message and requires it to be `type`; a failure message becomes a
 * {@link CardRefusedError}, anything else UNEXPECTED_MESSAGE.
 */
export async function expectMessage(
  channel: CardChannel,
  phase: CardPhase,
  type: ActiveCardEvent,
  timeoutMs?: number,
): Promise<CardMessage> {
  return checkExpected(await channel.receive(phase, timeoutMs), phase, type);
}

/** {@link expectMessage} for a message already received. */
export function checkExpected(message: CardMessage, phase: CardPhase, type: ActiveCardEvent): CardMessage {
  const refusal = refusalIn(message, phase);
  if (refusal) throw refusal;
  if (message.type !== type) {
    throw new CardProtocolError(
      "UNEXPECTED_MESSAGE",
      phase,
      `expected ${ActiveCardEvent[type]}, got ${ActiveCardEvent[message.type]}`,
    );
  }
  return message;
}
