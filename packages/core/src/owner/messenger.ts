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
    if (message.type === OwnerFrameType.ERROR) {
      const frame = decodeErrorFrame(message.payload);
      throw new OwnerProtocolError(
        frame.phase as OwnerPhase,
        frame.errorCode,
        `peer reported ${errorCodeName(frame.errorCode)}${frame.detail ? `: ${frame.detail}` : ""}`,
        { retryAllowed: frame.retryAllowed, fromPeer: true },
      );
    }
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
    const detail = error.wireCode === OwnerErrorCode.INTERNAL ? "" : error.code;
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
    if (!this.link.closed) {
      try {
        await this.link.receive({ timeoutMs: OwnerTimeouts.response });
      } catch {
        // closed by the peer, or it lingered too: either way we are done
      }
    }
    await this.link.close();
  }
}

/** Checks an AbortSignal between steps, as a typed `AbortedError`. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
}
