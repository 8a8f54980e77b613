import { concatBytes } from "../bytes.ts";
import { PairkitError } from "../errors.ts";

/**
 * A message from the peer does not parse: wrong length, bad field value, trailing bytes.
 * `message` names the message and field, never a value (fields may be secret-derived).
 */
export class MessageFormatError extends PairkitError {
  readonly what: string;

  constructor(what: string, reason: string) {
    super("MALFORMED_MESSAGE", `${what}: ${reason}`);
    this.what = what;
  }
}

/** Reads a message field by field; every read checks the remaining length first. */
export class WireReader {
  #offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  fail(reason: string): never {
    throw new MessageFormatError(this.what, reason);
  }

  get remaining(): number {
    return this.bytes.length - this.#offset;
  }

  bytesOf(length: number, field: string): Uint8Array {
    if (length > this.remaining) this.fail(`truncated at ${field}`);
    const out = this.bytes.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  rest(): Uint8Array {
    return this.bytesOf(this.remaining, "rest");
  }

  u8(field: string): number {
    return this.bytesOf(1, field)[0]!;
  }

  u16(field: string): number {
    const b = this.bytesOf(2, field);
    return (b[0]! << 8) | b[1]!;
  }

  u32(field: string): number {
    const b = this.bytesOf(4, field);
    return ((b[0]! << 24) >>> 0) + ((b[1]! << 16) | (b[2]! << 8) | b[3]!);
  }

  u64(field: string): number {
    const b = this.bytesOf(8, field);
    const value = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${field} out of range`);
    return Number(value);
  }

  /** Asserts the whole message was consumed: trailing bytes are an error, not padding. */
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} trailing bytes`);
  }
}

/** Builds a message field by field; range-checks integers so an encoder never truncates silently. */
export class WireWriter {
  readonly #parts: Uint8Array[] = [];

  constructor(private readonly what: string) {}

  bytes(value: Uint8Array, length?: number, field = "field"): this {
    if (length !== undefined && value.length !== length)
      throw new MessageFormatError(this.what, `${field} must be ${length} bytes`);
    this.#parts.push(value.slice());
    return this;
  }

  u8(value: number, field = "u8"): this {
    return this.#int(value, 1, field);
  }

  u16(value: number, field = "u16"): this {
    return this.#int(value, 2, field);
  }

  u32(value: number, field = "u32"): this {
    return this.#int(value, 4, field);
  }

  u64(value: number, field = "u64"): this {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new MessageFormatError(this.what, `${field} out of range`);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(value));
    this.#parts.push(out);
    return this;
  }

  #int(value: number, width: number, field: string): this {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * width))
      throw new MessageFormatError(this.what, `${field} out of range`);
    const out = new Uint8Array(width);
    for (let i = width - 1, v = value; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
    this.#parts.push(out);
    return this;
  }

  finish(): Uint8Array {
    return concatBytes(...this.#parts);
  }
}
