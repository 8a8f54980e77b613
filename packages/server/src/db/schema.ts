import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/** Timestamps are written as Date and read back as Date by both drivers. */
type Timestamp = ColumnType<Date, Date, Date>;
type Json<T> = ColumnType<T, string, string>;

export type UserRole = "customer" | "agent" | "admin";

export interface UsersTable {
  id: string;
  email: string;
  displayName: string;
  role: UserRole;
  createdAt: Timestamp;
}

export interface VehiclesTable {
  /** The vehicle id used on the wire and in MQTT topics. */
  id: string;
  vin: string;
  model: string;
  /** SEC1 uncompressed identity public key (phase 0 registration). */
  identityPublicKey: Uint8Array;
  policyFlags: number;
  /** Slow hash of the vehicle's MQTT password (see auth/secret-hash.ts); null: no credential yet. */
  mqttSecretHash: string | null;
  /** Sequence of the last verifier provisioned; the vehicle refuses a lower one (reordered delivery). */
  verifierSeq: Generated<number>;
  createdAt: Timestamp;
}

export interface OwnershipsTable {
  userId: string;
  vehicleId: string;
  /** Slow hash of the owner PIN used by the portal / hotline flow. */
  pinHash: string | null;
  pinFailures: Generated<number>;
  pinLockedUntil: Timestamp | null;
  since: Timestamp;
}

export interface SubscriptionsTable {
  userId: string;
  vehicleId: string;
  product: string;
  validUntil: Timestamp;
}

/** provisioning → open → paired | failed | expired | superseded. */
export type SessionStatus = "provisioning" | "open" | "paired" | "failed" | "expired" | "superseded";
export type SessionChannel = "app" | "portal" | "hotline";

export interface ScryptConfigJson {
  N: number;
  r: number;
  p: number;
}

export interface DeviceInfoJson {
  platform: string;
  model: string;
  appVersion: string;
}

export interface PairingSessionsTable {
  sessionId: string;
  userId: string;
  vehicleId: string;
  status: SessionStatus;
  channel: SessionChannel;
  issuedAt: Timestamp;
  expiresAt: Timestamp;
  /** Attempts spent: the greater of the device's starts and the vehicle's count (maxAttempts − remaining). */
  attemptCount: Generated<number>;
  /** `/pairing/session/start` calls accepted; never more than maxAttempts. */
  deviceAttemptCount: Generated<number>;
  maxAttempts: number;
  scryptConfig: Json<ScryptConfigJson>;
  salt: Uint8Array;
  /** The owner asked to replace the active owner key; it is revoked when this pairing completes. */
  replaceExisting: boolean;
  deviceInfo: Json<DeviceInfoJson | null>;
  failureCode: string | null;
}

export type TransactionStatus = "started" | "configured" | "attested" | "failed";

export interface PairingTransactionsTable {
  transactionId: string;
  sessionId: string;
  status: TransactionStatus;
  vehiclePublicKeyHash: string;
  policyFlags: number;
  deviceNonce: Uint8Array;
  pointX: Uint8Array;
  /** The reply's `vehicleNonce` (docs/api.md): a fresh backend nonce naming this transaction. */
  serverNonce: Uint8Array;
  configDigest: string | null;
  endpointHash: string | null;
  createdAt: Timestamp;
}

export type KeyState = "active" | "revoking" | "revoked";

export interface DigitalKeysTable {
  keyId: string;
  vehicleId: string;
  ownerUserId: string;
  role: "owner";
  state: KeyState;
  /** endpointIdHash reported by the device (hex). */
  keyMaterialHash: string;
  /** Registered with the KTS; SEC1 uncompressed. */
  endpointPublicKey: Uint8Array | null;
  transactionId: string;
  attested: Generated<boolean>;
  createdAt: Timestamp;
  revokedAt: Timestamp | null;
}

export interface KeyAttestationsTable {
  keyId: string;
  transactionId: string;
  signature: Uint8Array;
  issuedAt: Timestamp;
  verified: boolean;
}

export interface AuditLogTable {
  seq: number;
  at: Timestamp;
  actor: string;
  event: string;
  vehicleId: string | null;
  sessionId: string | null;
  keyId: string | null;
  detail: Json<Record<string, unknown>>;
  prevHash: string;
  hash: string;
}

/** One row: the tip of the audit chain, locked while an entry is appended. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface PortalTokensTable {
  /** SHA-256 of the one-time token (hex); the token itself is only in the e-mail. */
  tokenHash: string;
  userId: string;
  vehicleId: string;
  channel: "portal" | "hotline";
  agentUserId: string | null;
  replaceExisting: boolean;
  createdAt: Timestamp;
  expiresAt: Timestamp;
  redeemedAt: Timestamp | null;
}

export interface EmailOutboxTable {
  id: string;
  recipient: string;
  subject: string;
  /** Cleared once sent: it carries a one-time link. */
  body: string;
  createdAt: Timestamp;
  sentAt: Timestamp | null;
  attempts: Generated<number>;
}

export type DeliveryKind = "provision" | "revoke";
export type DeliveryStatus = "pending" | "acked" | "rejected" | "timeout";

export interface VerifierDeliveriesTable {
  deliveryId: string;
  vehicleId: string;
  kind: DeliveryKind;
  sessionId: string | null;
  keyId: string | null;
  status: DeliveryStatus;
  sentAt: Timestamp;
  answeredAt: Timestamp | null;
}

export interface RateLimitsTable {
  bucket: string;
  windowStart: Timestamp;
  count: number;
}

export interface Database {
  users: UsersTable;
  vehicles: VehiclesTable;
  ownerships: OwnershipsTable;
  subscriptions: SubscriptionsTable;
  pairingSessions: PairingSessionsTable;
  pairingTransactions: PairingTransactionsTable;
  digitalKeys: DigitalKeysTable;
  keyAttestations: KeyAttestationsTable;
  auditLog: AuditLogTable;
  auditHead: AuditHeadTable;
  portalTokens: PortalTokensTable;
  emailOutbox: EmailOutboxTable;
  verifierDeliveries: VerifierDeliveriesTable;
  rateLimits: RateLimitsTable;
}

export type PairingSession = Selectable<PairingSessionsTable>;
export type DigitalKey = Selectable<DigitalKeysTable>;
export type NewVehicle = Insertable<VehiclesTable>;
