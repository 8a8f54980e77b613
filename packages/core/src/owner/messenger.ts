import { AbortedError, TimeoutError } from "../errors.ts";
import type { Clock } from "../ports/clock.ts";
import type { Link } from "../ports/link.ts";
import {
  errorCodeName,
  frameTypeName,
  OwnerErrorCode,
  OwnerFrameType,
  type OwnerPhase,
  OwnerTimeouts,
} from "./constants.ts";
import { decodeErrorFrame, encodeErrorFrame } from "./error-frame.ts";
import { OwnerProtocolError } from "./errors.ts";

/** A phase budget (seed 001 §2: 20 s SPAKE2+, 30 s configuration) measured on the injected clock. */
export class Deadline {
  readonly #end: number;

  constructor(
    private readonly clock: Clock,
    readonly budgetMs: number,
    readonly what: string,
    /** Longest wait for any one message; the seed's 5 s unless a step documents otherwise. */
    private readonly perMessageMs: number = OwnerTimeouts.response,
  ) {
    this.#end = clock.now() + budgetMs;
  }

  /** The wait for the next message: 5 s per response (seed 001 §2), never past the phase budget. */
  nextWait(): number {
    const left = this.#end - this.clock.now();
    if (left <= 0) throw new TimeoutError(this.what, this.budgetMs);
    return Math.min(this.perMessageMs, left);
  }
}

/**
 * Owner-pairing messages over a `Link`: each receive names the frame type it expects and the
 * phase budget it runs under; an ERROR frame from the peer becomes an `OwnerProtocolError`.
 */
export class OwnerMessenger {
  constructor(
    readonly link: Link,
    readonly clock: Clock,
  ) {}

  send(type: number, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    return this.link.send({ type, payload }, signal ? { signal } : undefined);
  }

  async receive(
    expected: number,
    phase: OwnerPhase,
    deadline: Deadline,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const message = await this.link.receive({
      timeoutMs: deadline.nextWait(),
      ...(signal ? { signal } : {}),
    });
    if (message.type === OwnerFrameType.ERROR) throw errorFromPeer(message.payload, phase);
    if (message.type !== expected)
      throw new OwnerProtocolError(
        phase,
        OwnerErrorCode.UNEXPECTED_MESSAGE,
        `expected ${frameTypeName(expected)}, got ${frameTypeName(message.type)}`,
      );
    return message.payload;
  }

  /**
   * Reports a failure to the peer, best effort: the link may already be gone, and a failure to
   * report must not mask the failure being reported. Peer-reported errors are not echoed back.
   */
  async reportError(error: OwnerProtocolError): Promise<void> {
    if (error.fromPeer || this.link.closed || error.wireCode === OwnerErrorCode.DISCONNECTED) return;
    // The detail is the code's name (§3.9): never the message, which may say more than the peer should know.
    const detail = errorCodeName(error.wireCode);
    try {
      await this.send(
        OwnerFrameType.ERROR,
        encodeErrorFrame({
          phase: error.phaseNumber,
          errorCode: error.wireCode,
          retryAllowed: error.retryAllowed,
          detail,
        }),
      );
    } catch {
      // The peer is unreachable; closing the link tells it as much.
    }
  }

  /**
   * Ends the exchange on the vehicle's side. On BLE the central disconnects: closing first could
   * cut off our last notification or the acknowledgement of the phone's last write. So wait for
   * the phone to close (any message it still sends is ignored), at most 5 s, then close.
   */
  async hangUp(): Promise<void> {
    const wait = new Deadline(this.clock, OwnerTimeouts.response, "hang-up");
    while (!this.link.closed) {
      try {
        await this.link.receive({ timeoutMs: wait.nextWait() });
      } catch (error) {
        // Closed by the peer, or it lingered 5 s: done. A bad frame is ignored like a message.
        if (error instanceof TimeoutError) break;
      }
    }
    await this.link.close();
  }

  /**
   * The peer's ERROR, when one arrived before the link went away: it says why, where our failed
   * send or receive can only say DISCONNECTED. §2.8: messages received before a disconnect can
   * still be read; only those already queued are looked at.
   */
  async queuedPeerError(phase: OwnerPhase): Promise<OwnerProtocolError | undefined> {
    for (;;) {
      let message: { type: number; payload: Uint8Array };
      try {
        message = await this.link.receive({ timeoutMs: 0 });
      } catch {
        return undefined;
      }
      if (message.type === OwnerFrameType.ERROR) return errorFromPeer(message.payload, phase);
    }
  }
}

/**
 * An ERROR frame from the peer, as the error it reports. Never answered with an ERROR (§3.9),
 * not even when it does not parse: that one ends the exchange as MALFORMED_MESSAGE, from the peer.
 */
export function errorFromPeer(payload: Uint8Array, phase: OwnerPhase): OwnerProtocolError {
  let frame: ReturnType<typeof decodeErrorFrame>;
  try {
    frame = decodeErrorFrame(payload);
  } catch (cause) {
    return new OwnerProtocolError(phase, OwnerErrorCode.MALFORMED_MESSAGE, "peer sent a malformed ERROR", {
      fromPeer: true,
      cause,
    });
  }
  return new OwnerProtocolError(
    frame.phase as OwnerPhase,
    frame.errorCode,
    `peer reported ${errorCodeName(frame.errorCode)}${frame.detail ? `: ${frame.detail}` : ""}`,
    { retryAllowed: frame.retryAllowed, fromPeer: true },
  );
}

/** Checks an AbortSignal between steps, as a typed `AbortedError`. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
}
