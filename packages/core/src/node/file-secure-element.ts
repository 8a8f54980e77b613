import { readFile } from "node:fs/promises";
import { fromHex, toHex, utf8, wipe } from "../bytes.ts";
import type { Crypto, ScryptParams } from "../crypto/crypto.ts";
import { checkScryptParams, DEFAULT_SCRYPT_PARAMS } from "../crypto/password.ts";
import { DecryptionError, expectError } from "../errors.ts";
import { SecureElementError } from "../owner/errors.ts";
import { type SecureElementVault, SoftwareSecureElement } from "../owner/software-secure-element.ts";
import type { Clock } from "../ports/clock.ts";
import { readFileIfExists, writePrivateFileAtomically } from "./private-file.ts";

const FILE_FORMAT = "pairkit-se-file/v1";
const KEY_FILE_INFO = "pairkit/se-file/v1/key";
const SALT_LENGTH = 16;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;

/** Where the file key comes from: a passphrase (scrypt) or a key file of ≥ 32 random bytes (HKDF). */
export type FileVaultSecret =
  | { readonly passphrase: string; readonly scrypt?: ScryptParams }
  | { readonly keyFile: string };

type KdfHeader =
  | { name: "scrypt"; salt: string; N: number; r: number; p: number }
  | { name: "hkdf-sha256-keyfile"; salt: string };

interface VaultFile {
  format: string;
  kdf: KdfHeader;
  nonce: string;
  ciphertext: string;
}

/**
 * Keeps a software secure element's state in one file, encrypted at rest with AES-256-GCM.
 * The header (format, KDF and its parameters) is the AAD, so it cannot be swapped for a weaker
 * one; each save uses a fresh random nonce and replaces the file atomically (write, fsync, rename).
 */
export class FileSecureElementVault implements SecureElementVault {
  #key: Uint8Array | undefined;
  #kdf: KdfHeader | undefined;

  constructor(
    private readonly path: string,
    private readonly crypto: Crypto,
    private readonly secret: FileVaultSecret,
  ) {}

  async load(): Promise<Uint8Array | undefined> {
    let text: string | undefined;
    try {
      text = await readFileIfExists(this.path);
    } catch (error) {
      throw new SecureElementError("SE_STORAGE_FAILED", "secure element file could not be read", {
        cause: error,
      });
    }
    if (text === undefined) return undefined;
    const file = parseVaultFile(text);
    const key = await this.#deriveKey(file.kdf);
    try {
      return this.crypto.aesGcmDecrypt(key, fromHex(file.nonce), fromHex(file.ciphertext), header(file.kdf));
    } catch (error) {
      const cause = expectError(error, DecryptionError);
      const message = "wrong passphrase or key file, or the file was altered";
      throw new SecureElementError("SE_UNLOCK_FAILED", message, { cause });
    }
  }

  async save(state: Uint8Array): Promise<void> {
    const kdf = this.#kdf ?? this.#freshKdf();
    const key = await this.#deriveKey(kdf);
    const nonce = this.crypto.randomBytes(NONCE_LENGTH);
    const file: VaultFile = {
      format: FILE_FORMAT,
      kdf,
      nonce: toHex(nonce),
      ciphertext: toHex(this.crypto.aesGcmEncrypt(key, nonce, state, header(kdf))),
    };
    await writePrivateFileAtomically(this.path, JSON.stringify(file));
  }

  /** Forgets the file key held in memory. */
  destroy(): void {
    wipe(this.#key);
    this.#key = undefined;
  }

  #freshKdf(): KdfHeader {
    const salt = toHex(this.crypto.randomBytes(SALT_LENGTH));
    if ("keyFile" in this.secret) return { name: "hkdf-sha256-keyfile", salt };
    const { N, r, p } = checkScryptParams(this.secret.scrypt ?? DEFAULT_SCRYPT_PARAMS);
    return { name: "scrypt", salt, N, r, p };
  }

  async #deriveKey(kdf: KdfHeader): Promise<Uint8Array> {
    if (this.#key && this.#kdf && JSON.stringify(this.#kdf) === JSON.stringify(kdf)) return this.#key;
    let key: Uint8Array;
    const salt = fromHex(kdf.salt);
    if (kdf.name === "scrypt") {
      if (!("passphrase" in this.secret))
        throw new SecureElementError("SE_UNLOCK_FAILED", "file needs a passphrase");
      const password = utf8(this.secret.passphrase);
      key = await this.crypto.scrypt(password, salt, checkScryptParams(kdf), 32);
      wipe(password);
    } else {
      if (!("keyFile" in this.secret))
        throw new SecureElementError("SE_UNLOCK_FAILED", "file needs a key file");
      let material: Uint8Array;
      try {
        material = new Uint8Array(await readFile(this.secret.keyFile));
      } catch (cause) {
        throw new SecureElementError("SE_UNLOCK_FAILED", "key file could not be read", { cause });
      }
      if (material.length < 32)
        throw new SecureElementError("SE_UNLOCK_FAILED", "key file must hold at least 32 bytes");
      key = this.crypto.hkdfSha256(material, salt, utf8(KEY_FILE_INFO), 32);
      wipe(material);
    }
    wipe(this.#key);
    this.#key = key;
    this.#kdf = kdf;
    return key;
  }
}

/**
 * Reads the file's JSON into exactly the fields `save` writes, each checked (salt and nonce
 * lengths, hex, scrypt bounds): anything else is SE_STATE_CORRUPT, never a TypeError on a
 * missing field. The KDF header is rebuilt in `save`'s key order, so whatever else a file
 * carries in it changes the AAD and fails authentication.
 */
function parseVaultFile(text: string): VaultFile {
  const corrupt = (reason: string, cause?: unknown) =>
    new SecureElementError("SE_STATE_CORRUPT", `not a pairkit secure element file: ${reason}`, { cause });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw corrupt("not JSON", cause);
  }
  if (!isRecord(json) || json.format !== FILE_FORMAT) throw corrupt("unknown format");
  const hex = (value: unknown, field: string, length?: number): string => {
    if (typeof value !== "string" || !/^([0-9a-f]{2})+$/.test(value))
      throw corrupt(`${field} is not lowercase hex`);
    if (length !== undefined && value.length !== 2 * length) throw corrupt(`${field} is not ${length} bytes`);
    return value;
  };
  const kdf = json.kdf;
  if (!isRecord(kdf)) throw corrupt("kdf header missing");
  const salt = hex(kdf.salt, "kdf salt", SALT_LENGTH);
  let header: KdfHeader;
  if (kdf.name === "hkdf-sha256-keyfile") header = { name: kdf.name, salt };
  else if (kdf.name === "scrypt") {
    const { N, r, p } = kdf as { N: number; r: number; p: number };
    try {
      checkScryptParams({ N, r, p });
    } catch (cause) {
      throw corrupt("scrypt parameters out of range", cause);
    }
    header = { name: kdf.name, salt, N, r, p };
  } else throw corrupt("unknown kdf");
  const ciphertext = hex(json.ciphertext, "ciphertext");
  if (ciphertext.length < 2 * TAG_LENGTH) throw corrupt("ciphertext shorter than its tag");
  return { format: FILE_FORMAT, kdf: header, nonce: hex(json.nonce, "nonce", NONCE_LENGTH), ciphertext };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function header(kdf: KdfHeader): Uint8Array {
  return utf8(JSON.stringify({ format: FILE_FORMAT, kdf }));
}

/** A software secure element persisted, encrypted, in `path`; created on first write. */
export function openFileSecureElement(options: {
  readonly path: string;
  readonly crypto: Crypto;
  readonly secret: FileVaultSecret;
  readonly clock?: Clock;
}): Promise<SoftwareSecureElement> {
  return SoftwareSecureElement.open(
    options.crypto,
    new FileSecureElementVault(options.path, options.crypto, options.secret),
    options.clock,
  );
}
