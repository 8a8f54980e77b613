import type { KeyAttestation } from "./key-attestation.ts";
import type { MailboxLayout } from "./mailbox.ts";

/**
 * The ports the phone side of owner pairing talks to, besides the `Link`: the secure element,
 * the app keychain, the pairing log and the backend. Implementations live where their
 * dependencies live (in-memory ones here, a file-backed secure element in `@pairkit/core/node`,
 * `HttpPairingApi` over the pairing server's HTTP API).
 */

/** What the secure element needs to set an endpoint up (seed 001 §1.5 SETUP_ENDPOINT). */
export interface EndpointSetup {
  readonly vehicleId: string;
  /** Owner pairing session keys; the secure element keeps them, callers wipe their copies. */
  readonly kenc: Uint8Array;
  readonly kmac: Uint8Array;
  readonly krmac: Uint8Array;
  readonly mailbox: MailboxLayout;
  /** The vehicle's certificate chain, leaf first: the standard transaction verifies the vehicle with it. */
  readonly vehicleCertificateChain: readonly Uint8Array[];
  readonly policyFlags: number;
}

/** An endpoint as the secure element reports it: public data only. */
export interface EndpointInfo {
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
  /** Absent until `setupEndpoint`. */
  readonly vehicleId?: string;
  readonly mailbox?: MailboxLayout;
  readonly vehicleCertificateChain?: readonly Uint8Array[];
  readonly policyFlags?: number;
  readonly endpointCertificate?: Uint8Array;
  /** The KTS attestation (KeyAtt), encoded. */
  readonly keyAttestation?: Uint8Array;
}

/**
 * The secure element. Endpoint private keys are created inside it and never leave it; the
 * session keys go in and never come out. Every method rejects with a `SecureElementError`.
 */
export interface SecureElement {
  /** CREATE_ENDPOINT: a fresh P-256 key pair; keyId = SHA-256(publicKey)[0:16]. */
  createEndpoint(): Promise<{ keyId: Uint8Array; publicKey: Uint8Array }>;
  /** SETUP_ENDPOINT: binds the endpoint to a vehicle, its mailbox layout and the session keys. */
  setupEndpoint(keyId: Uint8Array, setup: EndpointSetup): Promise<void>;
  /** ECDSA P-256/SHA-256 (DER) with the endpoint's private key. */
  sign(keyId: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** HMAC-SHA256 under the endpoint's Krmac: the device's receipts to the vehicle. */
  receiptMac(keyId: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  storeEndpointCertificate(keyId: Uint8Array, certificate: Uint8Array): Promise<void>;
  storeKeyAttestation(keyId: Uint8Array, attestation: Uint8Array): Promise<void>;
  getEndpoint(keyId: Uint8Array): Promise<EndpointInfo | undefined>;
  listEndpoints(): Promise<readonly EndpointInfo[]>;
  /** Erases the endpoint and every key it holds; false when there was none. */
  deleteEndpoint(keyId: Uint8Array): Promise<boolean>;
}

export interface AuditEntry {
  readonly timestamp: number;
  readonly event: string;
  readonly detail?: string;
}

/** App-scoped keychain (seed 001 §5): sessionId, transactionId, descriptor digest, audit entries. */
export interface Keychain {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<void>;
  appendAudit(entry: AuditEntry): Promise<void>;
  auditEntries(): Promise<readonly AuditEntry[]>;
}

export const KeychainItem = {
  sessionId: "owner.sessionId",
  transactionId: "owner.transactionId",
  vehicleDescriptorDigest: "owner.vehicleDescriptorDigest",
  /** Keys whose KTS attestation is still to be fetched or delivered (owed-attestation.ts, JSON). */
  owedAttestations: "owner.owedAttestations",
} as const;

export type PairingLogPhase =
  | "connect"
  | "select"
  | "spake2"
  | "config"
  | "endpoint"
  | "finalize"
  | "attestation";

/** App storage pairing log (seed 001 §5). Never holds secrets. */
export interface PairingLogEntry {
  readonly timestamp: number;
  readonly phase: PairingLogPhase;
  readonly result: "started" | "ok" | "failed";
  readonly errorCode?: string;
}

export interface PairingLog {
  append(entry: PairingLogEntry): Promise<void>;
  entries(): Promise<readonly PairingLogEntry[]>;
}

/**
 * The backend as the SDK sees it (seed 001 §4). `HttpPairingApi` implements
 * it over `/pairing/session/start`, `/pairing/config/confirm`, the KTS and `/pairing/kts/response`;
 * `LocalPairingApi` implements it without a server. Failures reject with an `ApiError`.
 */
export interface PairingApi {
  startSession(
    request: {
      readonly sessionId: string;
      readonly devicePublicInfo: { readonly deviceNonce: Uint8Array; readonly pointX: Uint8Array };
    },
    options?: { signal?: AbortSignal },
  ): Promise<{ readonly transactionId: string }>;
  confirmConfig(
    request: {
      readonly transactionId: string;
      readonly configDigest: Uint8Array;
      readonly endpointIdHash: Uint8Array;
      readonly seStatus: number;
    },
    options?: { signal?: AbortSignal },
  ): Promise<{ readonly ktsEndpointUrl: string }>;
  /** Asks the KTS at `ktsEndpointUrl` to attest the endpoint key. */
  requestKeyAttestation(
    request: {
      readonly ktsEndpointUrl: string;
      readonly transactionId: string;
      readonly keyId: Uint8Array;
      readonly vehicleId: string;
      readonly endpointPublicKey: Uint8Array;
    },
    options?: { signal?: AbortSignal },
  ): Promise<KeyAttestation>;
  reportKtsResponse(
    request: { readonly transactionId: string; readonly keyAttestation: KeyAttestation },
    options?: { signal?: AbortSignal },
  ): Promise<void>;
}
