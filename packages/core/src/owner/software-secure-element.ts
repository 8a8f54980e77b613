import { fromHex, toHex, utf8, wipe } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import { endpointKeyId } from "./binding.ts";
import { SecureElementError } from "./errors.ts";
import type { MailboxLayout } from "./mailbox.ts";
import type { EndpointInfo, EndpointSetup, SecureElement } from "./ports.ts";

/**
 * Where a software secure element keeps its state between runs. `save` gets the serialized
 * state (which contains private keys) and must protect it; `FileSecureElementVault` in
 * `@pairkit/core/node` encrypts it at rest.
 */
export interface SecureElementVault {
  load(): Promise<Uint8Array | undefined>;
  save(state: Uint8Array): Promise<void>;
}

interface Entry {
  readonly keyId: Uint8Array;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
  readonly setup?: EndpointSetup;
  readonly endpointCertificate?: Uint8Array;
  readonly keyAttestation?: Uint8Array;
}

const STATE_FORMAT = "pairkit-software-se/v1";

/**
 * A secure element in software, for Node apps, tests and the simulators. Keys stay inside
 * this object (and, with a vault, in its protected file); no method returns a private or
 * session key. Without a vault it lives in memory only. Every change is persisted before it
 * takes effect, so a failed save leaves the previous state intact.
 */
export class SoftwareSecureElement implements SecureElement {
  #entries = new Map<string, Entry>();

  private constructor(
    private readonly crypto: Crypto,
    private readonly clock: Clock,
    private readonly vault: SecureElementVault | undefined,
  ) {}

  static inMemory(crypto: Crypto, clock: Clock = systemClock): SoftwareSecureElement {
    return new SoftwareSecureElement(crypto, clock, undefined);
  }

  static async open(
    crypto: Crypto,
    vault: SecureElementVault,
    clock: Clock = systemClock,
  ): Promise<SoftwareSecureElement> {
    const se = new SoftwareSecureElement(crypto, clock, vault);
    const state = await vault.load();
    if (state) {
      try {
        se.#entries = deserialize(state);
      } finally {
        wipe(state);
      }
    }
    return se;
  }

  async createEndpoint(): Promise<{ keyId: Uint8Array; publicKey: Uint8Array }> {
    const { privateKey, publicKey } = this.crypto.generateKeyPair();
    const keyId = endpointKeyId(this.crypto, publicKey);
    await this.#commit(keyId, { keyId, privateKey, publicKey, createdAt: this.clock.now() });
    return { keyId: keyId.slice(), publicKey: publicKey.slice() };
  }

  async setupEndpoint(keyId: Uint8Array, setup: EndpointSetup): Promise<void> {
    const entry = this.#require(keyId);
    if (entry.setup) throw new SecureElementError("ENDPOINT_ALREADY_SET_UP", "endpoint already set up");
    const copy: EndpointSetup = {
      ...setup,
      kenc: setup.kenc.slice(),
      kmac: setup.kmac.slice(),
      krmac: setup.krmac.slice(),
      vehicleCertificateChain: setup.vehicleCertificateChain.map((c) => c.slice()),
    };
    await this.#commit(keyId, { ...entry, setup: copy });
  }

  async sign(keyId: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
    return this.crypto.ecdsaSign(this.#require(keyId).privateKey, message);
  }

  async receiptMac(keyId: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
    const setup = this.#require(keyId).setup;
    if (!setup) throw new SecureElementError("ENDPOINT_NOT_SET_UP", "endpoint not set up");
    return this.crypto.hmacSha256(setup.krmac, data);
  }

  async storeEndpointCertificate(keyId: Uint8Array, certificate: Uint8Array): Promise<void> {
    await this.#commit(keyId, { ...this.#require(keyId), endpointCertificate: certificate.slice() });
  }

  async storeKeyAttestation(keyId: Uint8Array, attestation: Uint8Array): Promise<void> {
    await this.#commit(keyId, { ...this.#require(keyId), keyAttestation: attestation.slice() });
  }

  async getEndpoint(keyId: Uint8Array): Promise<EndpointInfo | undefined> {
    const entry = this.#entries.get(toHex(keyId));
    return entry && info(entry);
  }

  async listEndpoints(): Promise<readonly EndpointInfo[]> {
    return [...this.#entries.values()].map(info);
  }

  async deleteEndpoint(keyId: Uint8Array): Promise<boolean> {
    const entry = this.#entries.get(toHex(keyId));
    if (!entry) return false;
    await this.#commit(keyId, undefined);
    wipe(entry.privateKey, entry.setup?.kenc, entry.setup?.kmac, entry.setup?.krmac);
    return true;
  }

  /** Wipes every key held in memory (the vault's copy stays, encrypted); the object is unusable after. */
  destroy(): void {
    for (const e of this.#entries.values()) wipe(e.privateKey, e.setup?.kenc, e.setup?.kmac, e.setup?.krmac);
    this.#entries = new Map();
  }

  #require(keyId: Uint8Array): Entry {
    const entry = this.#entries.get(toHex(keyId));
    if (!entry) throw new SecureElementError("UNKNOWN_ENDPOINT", "no such endpoint");
    return entry;
  }

  async #commit(keyId: Uint8Array, entry: Entry | undefined): Promise<void> {
    const next = new Map(this.#entries);
    if (entry) next.set(toHex(keyId), entry);
    else next.delete(toHex(keyId));
    if (this.vault) {
      const state = serialize(next);
      try {
        await this.vault.save(state);
      } catch (cause) {
        throw new SecureElementError("SE_STORAGE_FAILED", "secure element state could not be saved", {
          cause,
        });
      } finally {
        wipe(state);
      }
    }
    this.#entries = next;
  }
}

function info(e: Entry): EndpointInfo {
  return {
    keyId: e.keyId.slice(),
    publicKey: e.publicKey.slice(),
    createdAt: e.createdAt,
    ...(e.setup && {
      vehicleId: e.setup.vehicleId,
      mailbox: e.setup.mailbox,
      vehicleCertificateChain: e.setup.vehicleCertificateChain.map((c) => c.slice()),
      policyFlags: e.setup.policyFlags,
    }),
    ...(e.endpointCertificate && { endpointCertificate: e.endpointCertificate.slice() }),
    ...(e.keyAttestation && { keyAttestation: e.keyAttestation.slice() }),
  };
}

interface SerializedEntry {
  keyId: string;
  privateKey: string;
  publicKey: string;
  createdAt: number;
  setup?: {
    vehicleId: string;
    kenc: string;
    kmac: string;
    krmac: string;
    mailbox: MailboxLayout;
    vehicleCertificateChain: string[];
    policyFlags: number;
  };
  endpointCertificate?: string;
  keyAttestation?: string;
}

function serialize(entries: Map<string, Entry>): Uint8Array {
  const out: SerializedEntry[] = [...entries.values()].map((e) => ({
    keyId: toHex(e.keyId),
    privateKey: toHex(e.privateKey),
    publicKey: toHex(e.publicKey),
    createdAt: e.createdAt,
    ...(e.setup && {
      setup: {
        vehicleId: e.setup.vehicleId,
        kenc: toHex(e.setup.kenc),
        kmac: toHex(e.setup.kmac),
        krmac: toHex(e.setup.krmac),
        mailbox: e.setup.mailbox,
        vehicleCertificateChain: e.setup.vehicleCertificateChain.map(toHex),
        policyFlags: e.setup.policyFlags,
      },
    }),
    ...(e.endpointCertificate && { endpointCertificate: toHex(e.endpointCertificate) }),
    ...(e.keyAttestation && { keyAttestation: toHex(e.keyAttestation) }),
  }));
  return utf8(JSON.stringify({ format: STATE_FORMAT, endpoints: out }));
}

function deserialize(bytes: Uint8Array): Map<string, Entry> {
  let parsed: { format?: unknown; endpoints?: SerializedEntry[] };
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new SecureElementError("SE_STATE_CORRUPT", "secure element state is not valid", { cause });
  }
  if (parsed.format !== STATE_FORMAT || !Array.isArray(parsed.endpoints))
    throw new SecureElementError("SE_STATE_CORRUPT", "secure element state has an unknown format");
  const entries = new Map<string, Entry>();
  try {
    for (const e of parsed.endpoints) {
      const entry: Entry = {
        keyId: fromHex(e.keyId),
        privateKey: fromHex(e.privateKey),
        publicKey: fromHex(e.publicKey),
        createdAt: e.createdAt,
        ...(e.setup && {
          setup: {
            vehicleId: e.setup.vehicleId,
            kenc: fromHex(e.setup.kenc),
            kmac: fromHex(e.setup.kmac),
            krmac: fromHex(e.setup.krmac),
            mailbox: e.setup.mailbox,
            vehicleCertificateChain: e.setup.vehicleCertificateChain.map(fromHex),
            policyFlags: e.setup.policyFlags,
          },
        }),
        ...(e.endpointCertificate && { endpointCertificate: fromHex(e.endpointCertificate) }),
        ...(e.keyAttestation && { keyAttestation: fromHex(e.keyAttestation) }),
      };
      entries.set(e.keyId, entry);
    }
  } catch (cause) {
    throw new SecureElementError("SE_STATE_CORRUPT", "secure element state is not valid", { cause });
  }
  return entries;
}
