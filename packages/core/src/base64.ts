import { PairkitError } from "./errors.ts";

/** Text that is not canonical RFC 4648 base64. */
export class Base64Error extends PairkitError {
  constructor(what: string) {
    super("INVALID_BASE64", `${what}: not canonical base64`);
  }
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUES = new Map([...ALPHABET].map((c, i) => [c, i]));

/** RFC 4648 §4 base64 with padding (what Go's base64.StdEncoding and Kotlin's Base64 write). */
export function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!;
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63]! : "=";
    out += i + 2 < bytes.length ? ALPHABET[n & 63]! : "=";
  }
  return out;
}

/**
 * Strict inverse of {@link encodeBase64}: canonical padding, no whitespace, no URL alphabet,
 * zero unused bits; so that one value has exactly one encoding (a QR code, a radio message,
 * an HTTP body).
 */
export function decodeBase64(text: string, what: string): Uint8Array {
  const fail = () => new Base64Error(what);
  if (text.length % 4 !== 0) throw fail();
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text[i + j]!;
      const last = i + 4 === text.length;
      if (c === "=" && last && j >= 4 - padding) {
        n <<= 6;
        continue;
      }
      const v = VALUES.get(c);
      if (v === undefined) throw fail();
      n = (n << 6) | v;
    }
    const bytes = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
    for (let k = 0; k < 3 && o < out.length; k++) out[o++] = bytes[k]!;
    if (i + 4 === text.length && padding > 0 && (n & (padding === 2 ? 0xffff : 0xff)) !== 0) throw fail();
  }
  return out;
}
