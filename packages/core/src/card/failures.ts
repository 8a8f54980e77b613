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
 * The failure answer of each phase (docs §4.4): the seed's result messages with their flag
 * false. The established session has none; a bad message there just ends the session.
 */
const FAILURE_TYPE: Record<CardPhase, ActiveCardEvent | undefined> = {
  challenge: ActiveCardEvent.SIGNATURE_VERIFICATION_RESULT,
  ecdh: ActiveCardEvent.ECDH_EXCHANGE_ACK,
  binding: ActiveCardEvent.PAIRING_CONFIRMATION,
  forget: ActiveCardEvent.FORGET_ACK,
  session: undefined,
  mpc: ActiveCardEvent.MPC_REFUSED,
};

/** Sends the failure answer of `phase` with the error code as reason, where the phase has one. */
export async function sendFailure(channel: CardChannel, phase: CardPhase, code: string): Promise<void> {
  switch (FAILURE_TYPE[phase]) {
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

/** The refusal carried by `message` if it is `phase`'s failure answer with its flag false. */
function refusalIn(message: CardMessage, phase: CardPhase): CardRefusedError | undefined {
  if (message.type !== FAILURE_TYPE[phase]) return undefined;
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
 * Receives the next message and requires it to be `type`; the phase's failure answer becomes a
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
