/**
 * Fault injection for the simulated radio. A plan is read at each event, so a test may change it
 * between steps; one-shot faults (`disconnectAtPdu`, `failConnects`) are consumed when they fire.
 */
export interface FaultPlan {
  /** The k-th ATT PDU on the air (1-based, writes and notifications of all connections) drops its link instead of arriving. */
  disconnectAtPdu?: number;
  /** This many next connection attempts fail to establish (HCI 0x3E), like a flaky first connect. */
  failConnects?: number;
  /** Added to every over-the-air hop, to push operations past their timeouts. */
  extraDelayMs?: number;
  /** An attacker relaying the link: sees each write and notification and decides what arrives. */
  mitm?: MitmHook;
}

export interface InterceptedPdu {
  readonly kind: "write" | "notification";
  /** 1-based count of intercepted PDUs of this kind on this radio. */
  readonly index: number;
  readonly connectionId: number;
  readonly service: string;
  readonly characteristic: string;
  readonly value: Uint8Array;
}

/**
 * Returns the values to deliver in place of `pdu`, in order: `[]` drops it, two values duplicate
 * or replay, a changed value flips bits; `undefined` passes it through. An attacker relaying the
 * link holds one connection to each side, so it acknowledges every write itself whatever it
 * forwards: the central cannot tell a dropped write from a delivered one.
 */
export type MitmHook = (pdu: InterceptedPdu) => readonly Uint8Array[] | undefined;

type Kind = InterceptedPdu["kind"];

/** Drops the n-th PDU of `kind`. */
export function dropPdu(kind: Kind, n: number): MitmHook {
  return (pdu) => (pdu.kind === kind && pdu.index === n ? [] : undefined);
}

/** Delivers the n-th PDU of `kind` twice. */
export function duplicatePdu(kind: Kind, n: number): MitmHook {
  return (pdu) => (pdu.kind === kind && pdu.index === n ? [pdu.value, pdu.value] : undefined);
}

/** Replaces the n-th PDU of `kind` by a replay of the earlier m-th one (m < n). */
export function replayPdu(kind: Kind, n: number, m: number): MitmHook {
  const seen = new Map<number, Uint8Array>();
  return (pdu) => {
    if (pdu.kind !== kind) return undefined;
    seen.set(pdu.index, pdu.value.slice());
    const earlier = seen.get(m);
    return pdu.index === n && earlier ? [earlier] : undefined;
  };
}

/** Holds the n-th PDU of `kind` and delivers it after the (n+1)-th. */
export function swapPdus(kind: Kind, n: number): MitmHook {
  let held: Uint8Array | undefined;
  return (pdu) => {
    if (pdu.kind !== kind) return undefined;
    if (pdu.index === n) {
      held = pdu.value.slice();
      return [];
    }
    if (pdu.index === n + 1 && held) return [pdu.value, held];
    return undefined;
  };
}

/** Flips bit `bit` (0 = least significant bit of byte 0) of the n-th PDU of `kind`. */
export function flipBit(kind: Kind, n: number, bit: number): MitmHook {
  return (pdu) => {
    if (pdu.kind !== kind || pdu.index !== n) return undefined;
    const value = pdu.value.slice();
    const byte = bit >> 3;
    if (byte < value.length) value[byte] = (value[byte] ?? 0) ^ (1 << (bit & 7));
    return [value];
  };
}
