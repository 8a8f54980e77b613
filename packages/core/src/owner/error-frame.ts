import { WireReader, WireWriter } from "./wire.ts";

/** ERROR (0x7F), seed 001 §3. `detail` is printable ASCII for humans; peers branch on `errorCode`. */
export interface ErrorFrame {
  readonly phase: number;
  readonly errorCode: number;
  readonly retryAllowed: boolean;
  readonly detail: string;
}

export const MAX_ERROR_DETAIL_LENGTH = 128;

function isPrintableAscii(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return false;
  return true;
}

export function encodeErrorFrame(m: ErrorFrame): Uint8Array {
  const detail = new TextEncoder().encode(m.detail.slice(0, MAX_ERROR_DETAIL_LENGTH));
  const w = new WireWriter("ERROR")
    .u8(m.phase, "phase")
    .u16(m.errorCode, "errorCode")
    .u8(m.retryAllowed ? 1 : 0);
  // A detail that is not printable ASCII is dropped rather than sent: it is optional.
  return w.bytes(isPrintableAscii(detail) ? detail : new Uint8Array(0)).finish();
}

export function decodeErrorFrame(bytes: Uint8Array): ErrorFrame {
  const r = new WireReader(bytes, "ERROR");
  const phase = r.u8("phase");
  if (phase < 1 || phase > 5) r.fail("phase must be 1–5");
  const errorCode = r.u16("errorCode");
  const retry = r.u8("retryAllowed");
  if (retry > 1) r.fail("retryAllowed must be 0 or 1");
  const detail = r.rest();
  if (detail.length > MAX_ERROR_DETAIL_LENGTH || !isPrintableAscii(detail))
    r.fail("detail must be printable ASCII");
  return { phase, errorCode, retryAllowed: retry === 1, detail: new TextDecoder().decode(detail) };
}
