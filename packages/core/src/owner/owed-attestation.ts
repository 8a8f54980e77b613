import { fromHex, toHex } from "../bytes.ts";
import type { Crypto } from "../crypto/crypto.ts";
import { PairkitError } from "../errors.ts";
import { type Clock, systemClock } from "../ports/clock.ts";
import { backoffDelayMs, isTransientApiError, sleep } from "./api-retry.ts";
import { ApiError } from "./errors.ts";
import {
  attestationNamesEndpoint,
  decodeKeyAttestation,
  encodeKeyAttestation,
  type KeyAttestation,
  verifyKeyAttestation,
} from "./key-attestation.ts";
import { type Keychain, KeychainItem, type PairingApi, type SecureElement } from "./ports.ts";

/**
 * A paired key whose KTS attestation the phone still owes the vehicle (docs/protocol.md §3.11):
 * the KTS was unreachable at pairing. `fetched` turns true once the attestation is in the secure
 * element; the next standard transaction hands it to the vehicle, which settles the debt.
 */
export interface OwedAttestation {
  /** The endpoint's key id, hex. */
  readonly keyId: string;
  readonly vehicleId: string;
  readonly transactionId: string;
  readonly ktsEndpointUrl: string;
  readonly fetched: boolean;
}

/** The owed attestations the keychain records (one keychain item, a JSON list). */
export async function owedAttestations(keychain: Keychain): Promise<OwedAttestation[]> {
  const text = await keychain.get(KeychainItem.owedAttestations);
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new PairkitError("KEYCHAIN_CORRUPT", "owed attestations: not JSON", { cause });
  }
  if (!Array.isArray(parsed) || !parsed.every(isOwedAttestation))
    throw new PairkitError("KEYCHAIN_CORRUPT", "owed attestations: not a list of records");
  return parsed;
}

function isOwedAttestation(value: unknown): value is OwedAttestation {
  const r = value as Record<string, unknown> | null;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.keyId === "string" &&
    /^[0-9a-f]{32}$/.test(r.keyId) &&
    typeof r.vehicleId === "string" &&
    typeof r.transactionId === "string" &&
    typeof r.ktsEndpointUrl === "string" &&
    typeof r.fetched === "boolean"
  );
}

/** Records (or replaces, by key id) an owed attestation. */
export async function oweAttestation(keychain: Keychain, record: OwedAttestation): Promise<void> {
  const others = (await owedAttestations(keychain)).filter((r) => r.keyId !== record.keyId);
  await keychain.set(KeychainItem.owedAttestations, JSON.stringify([...others, record]));
}

/** Forgets the debt for a key: delivered to the vehicle, or the key is gone. */
export async function settleAttestation(keychain: Keychain, keyId: Uint8Array): Promise<void> {
  const all = await owedAttestations(keychain);
  const rest = all.filter((r) => r.keyId !== toHex(keyId));
  if (rest.length === all.length) return;
  if (rest.length === 0) await keychain.delete(KeychainItem.owedAttestations);
  else await keychain.set(KeychainItem.owedAttestations, JSON.stringify(rest));
}

/** Exponential back-off with full jitter; `retryAfter` from the KTS is honoured as a floor. */
export interface AttestationBackoff {
  /** Default 2 s. */
  readonly initialDelayMs?: number;
  /** Default 5 min. */
  readonly maxDelayMs?: number;
  /** Tries per key per call, default 8. */
  readonly maxAttempts?: number;
}

export interface FetchOwedAttestationsOptions {
  readonly crypto: Crypto;
  readonly api: Pick<PairingApi, "requestKeyAttestation" | "reportKtsResponse">;
  readonly keychain: Keychain;
  readonly secureElement: SecureElement;
  /** Without it the vehicle alone checks the signature (it always does). */
  readonly ktsPublicKey?: Uint8Array;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  readonly backoff?: AttestationBackoff;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. */
  readonly random?: () => number;
}

export interface FetchOwedAttestationsResult {
  /** Hex key ids whose attestation is now in the secure element, waiting for the next transaction. */
  readonly fetched: readonly string[];
  /** Hex key ids still owed after this call (the KTS stayed unreachable or refused for now). */
  readonly stillOwed: readonly string[];
  /** Hex key ids dropped: the key is gone from the secure element or the server no longer knows it. */
  readonly abandoned: readonly string[];
}

/** Replies after which asking again cannot help: the key was revoked or the pairing is unknown. */
const KEY_GONE = new Set(["KEY_NOT_ACTIVE", "TRANSACTION_NOT_FOUND", "NOT_OWNER"]);

/**
 * Fetches every owed attestation from the KTS, retrying transient failures with back-off; a
 * verified attestation goes into the secure element and is reported to the backend. An app calls
 * this when it comes online or on a timer; delivering to the vehicle happens in the next
 * `runStandardTransaction` given the keychain.
 */
export async function fetchOwedAttestations(
  options: FetchOwedAttestationsOptions,
): Promise<FetchOwedAttestationsResult> {
  const { keychain, secureElement: se, api, signal } = options;
  const result = { fetched: [] as string[], stillOwed: [] as string[], abandoned: [] as string[] };
  for (const owed of await owedAttestations(keychain)) {
    if (owed.fetched) continue;
    const keyId = fromHex(owed.keyId);
    const endpoint = await se.getEndpoint(keyId);
    if (!endpoint) {
      await settleAttestation(keychain, keyId);
      result.abandoned.push(owed.keyId);
      continue;
    }
    const outcome = await fetchOne(options, owed, endpoint.publicKey);
    if (outcome === "gone") {
      await settleAttestation(keychain, keyId);
      await keychain.appendAudit({
        timestamp: now(options),
        event: "attestation-abandoned",
        detail: owed.keyId,
      });
      result.abandoned.push(owed.keyId);
    } else if (outcome === "owed") {
      result.stillOwed.push(owed.keyId);
    } else {
      await se.storeKeyAttestation(keyId, encodeKeyAttestation(outcome));
      await oweAttestation(keychain, { ...owed, fetched: true });
      // The backend learns it too; a lost report changes nothing for the vehicle.
      await api
        .reportKtsResponse(
          { transactionId: owed.transactionId, keyAttestation: outcome },
          signal ? { signal } : {},
        )
        .catch(() => {});
      result.fetched.push(owed.keyId);
    }
    signal?.throwIfAborted();
  }
  return result;
}

function now(options: FetchOwedAttestationsOptions): number {
  return (options.clock ?? systemClock).now();
}

async function fetchOne(
  options: FetchOwedAttestationsOptions,
  owed: OwedAttestation,
  endpointPublicKey: Uint8Array,
): Promise<KeyAttestation | "owed" | "gone"> {
  const { crypto, api, signal, ktsPublicKey } = options;
  const initial = options.backoff?.initialDelayMs ?? 2_000;
  const max = options.backoff?.maxDelayMs ?? 300_000;
  const attempts = options.backoff?.maxAttempts ?? 8;
  const random = options.random ?? Math.random;
  const keyId = fromHex(owed.keyId);
  for (let attempt = 0; attempt < attempts; attempt++) {
    let failure: unknown;
    try {
      const attestation = await api.requestKeyAttestation(
        {
          ktsEndpointUrl: owed.ktsEndpointUrl,
          transactionId: owed.transactionId,
          keyId,
          vehicleId: owed.vehicleId,
          endpointPublicKey,
        },
        signal ? { signal } : {},
      );
      const valid =
        attestationNamesEndpoint(crypto, attestation, {
          keyId,
          vehicleId: owed.vehicleId,
          publicKey: endpointPublicKey,
        }) &&
        (ktsPublicKey === undefined || verifyKeyAttestation(crypto, ktsPublicKey, attestation)) &&
        roundTrips(attestation);
      if (valid) return attestation;
      // A KTS answering with someone else's or a forged attestation will not be asked again now.
      await options.keychain.appendAudit({
        timestamp: now(options),
        event: "attestation-rejected",
        detail: owed.keyId,
      });
      return "owed";
    } catch (error) {
      signal?.throwIfAborted();
      if (error instanceof ApiError && KEY_GONE.has(error.code)) return "gone";
      if (!isTransientApiError(error)) return "owed";
      failure = error;
    }
    if (attempt + 1 < attempts) {
      const delay = backoffDelayMs(failure, attempt, { initialDelayMs: initial, maxDelayMs: max, random });
      await sleep(options.clock ?? systemClock, delay, signal);
    }
  }
  return "owed";
}

/** The secure element stores the encoded form; an attestation that cannot be encoded is not one. */
function roundTrips(attestation: KeyAttestation): boolean {
  try {
    decodeKeyAttestation(encodeKeyAttestation(attestation));
    return true;
  } catch {
    return false;
  }
}
