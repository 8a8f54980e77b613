import { type Static, Type } from "@sinclair/typebox";

/**
 * Request and reply schemas of the HTTP API. Field names follow seed 001 §4 exactly so that the
 * SDK's PairingApi adapter is a thin fetch wrapper; additions are marked.
 */

export const ErrorReply = Type.Object(
  {
    code: Type.String({ description: "Stable machine-readable code (docs/api.md lists them)" }),
    message: Type.String(),
    remainingAttempts: Type.Optional(Type.Integer({ minimum: 0 })),
    retryAfter: Type.Optional(Type.Integer({ minimum: 0, description: "Seconds; also sent as Retry-After" })),
  },
  { $id: "ErrorReply", title: "Error (seed 001 §4)" },
);
export type ErrorReply = Static<typeof ErrorReply>;

export const errorReplies = {
  "4xx": Type.Ref("ErrorReply"),
  "5xx": Type.Ref("ErrorReply"),
} as const;

export const VehicleId = Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$" });
/**
 * The hyphenated hex form only: ajv's `uuid` format also takes `urn:uuid:…`, which PostgreSQL's
 * uuid type refuses (a 500 instead of a 400).
 */
export const Uuid = Type.String({
  format: "uuid",
  pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
});

const B64 = "[A-Za-z0-9+/]";
/** The canonical ending of base64 for a byte count ≡ 0, 1, 2 (mod 3): padding and unused bits pinned. */
const B64_TAIL = ["", `${B64}[AQgw]==`, `${B64}{2}[AEIMQUYcgkosw048]=`] as const;
/**
 * Canonical base64 of `minBytes`..`maxBytes` bytes. A fixed size is pinned exactly, so the
 * database's length constraints never see a wrong length; a range (a DER signature) is bounded by
 * its text length and checked by the parser that reads it.
 */
export const Base64 = (minBytes: number, maxBytes: number) =>
  Type.String({
    pattern:
      minBytes === maxBytes
        ? `^(?:${B64}{4}){${Math.floor(minBytes / 3)}}${B64_TAIL[minBytes % 3]}$`
        : `^(?:${B64}{4})*(?:${B64_TAIL[1]}|${B64_TAIL[2]})?$`,
    minLength: 4 * Math.ceil(minBytes / 3),
    maxLength: 4 * Math.ceil(maxBytes / 3),
    contentEncoding: "base64",
  });

/**
 * Free text: no control characters (PostgreSQL refuses NUL in text, which would be a 500; the rest
 * have no business in names and models and would garble logs and the console).
 */
export const Text = (minLength: number, maxLength: number) =>
  Type.String({ minLength, maxLength, pattern: "^[^\\u0000-\\u001f\\u007f]*$" });

/**
 * RFC 3339 date-time that JavaScript's Date can represent: ajv's format admits the leap second
 * `:60`, which `new Date` turns into an Invalid Date (a RangeError, a 500).
 */
export const DateTime = Type.String({
  format: "date-time",
  pattern: "^\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}:[0-5]\\d",
});
export const Hex = (bytes: number) => Type.String({ pattern: `^[0-9a-fA-F]{${2 * bytes}}$` });
export const Jwt = Type.String({
  minLength: 16,
  maxLength: 8192,
  pattern: "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*$",
});

export const ScryptParamsSchema = Type.Object(
  { N: Type.Integer({ minimum: 2 }), r: Type.Integer({ minimum: 1 }), p: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);

export const DeviceInfo = Type.Object(
  {
    platform: Type.Union([
      Type.Literal("android"),
      Type.Literal("ios"),
      Type.Literal("web"),
      Type.Literal("node"),
    ]),
    model: Text(1, 100),
    appVersion: Text(1, 50),
  },
  { additionalProperties: false },
);

export const PasswordRequestBody = Type.Object(
  {
    vehicleId: VehicleId,
    userToken: Type.Optional({
      ...Jwt,
      description: "Seed 001 §4; the Authorization header may carry it instead",
    }),
    deviceInfo: DeviceInfo,
    replaceExisting: Type.Optional(
      Type.Boolean({
        description:
          "Addition: replace the active owner device; its key is revoked when this pairing completes",
      }),
    ),
  },
  { additionalProperties: false },
);
export type PasswordRequestBody = Static<typeof PasswordRequestBody>;

export const PasswordReply = Type.Object({
  sessionId: Uuid,
  pairingPassword: Type.String({ pattern: "^[0-9]{8}$" }),
  expiresAt: Type.String({ format: "date-time" }),
  maxAttempts: Type.Integer({ minimum: 1 }),
  scrypt: ScryptParamsSchema,
  deepLink: Type.String({
    description: "Addition (DESIGN.md): hands the password to the native pairing screen",
  }),
});
export type PasswordReply = Static<typeof PasswordReply>;

/** A user id, the `sub` of the user's tokens. */
export const UserId = Type.String({
  pattern: "^[A-Za-z0-9_.@-]{1,64}$",
  description: "The `sub` of the user's tokens",
});

export const DevTokenBody = Type.Object(
  {
    userId: UserId,
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
  },
  { additionalProperties: false },
);
export const DevTokenReply = Type.Object({ token: Type.String(), expiresIn: Type.Integer() });

export const VehicleCredentialBody = Type.Object(
  { identityPublicKey: Type.Optional(Base64(65, 65)) },
  { additionalProperties: false },
);
export const VehicleCredentialReply = Type.Object({
  vehicleId: VehicleId,
  mqttUrl: Type.String(),
  username: Type.String(),
  clientId: Type.String(),
  password: Type.String(),
});

export const SessionStartBody = Type.Object(
  {
    sessionId: Uuid,
    devicePublicInfo: Type.Object(
      { deviceNonce: Base64(16, 16), pointX: Base64(65, 65) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type SessionStartBody = Static<typeof SessionStartBody>;

export const SessionStartReply = Type.Object({
  transactionId: Uuid,
  vehiclePublicKey: Type.String({
    description: "The vehicle's identity public key, SEC1 uncompressed, base64",
  }),
  policyFlags: Type.Integer({ minimum: 0, maximum: 255 }),
  vehicleNonce: Type.String({
    description: "16-byte backend nonce naming this transaction (docs/api.md), base64",
  }),
  remainingAttempts: Type.Integer({ minimum: 0, description: "Addition: attempts left after this one" }),
});
export type SessionStartReply = Static<typeof SessionStartReply>;

export const ConfigConfirmBody = Type.Object(
  {
    transactionId: Uuid,
    configDigest: Hex(32),
    endpointIdHash: Hex(16),
    seStatus: Type.Integer({ minimum: 0, maximum: 255 }),
  },
  { additionalProperties: false },
);
export type ConfigConfirmBody = Static<typeof ConfigConfirmBody>;

export const ConfigConfirmReply = Type.Object({
  ack: Type.Literal(true),
  ktsEndpointUrl: Type.Optional(Type.String({ description: "Absent when seStatus reported a failure" })),
  keyId: Type.Optional(Uuid),
});
export type ConfigConfirmReply = Static<typeof ConfigConfirmReply>;

export const KtsResponseBody = Type.Object(
  {
    transactionId: Uuid,
    keyAttestation: Type.Object(
      { signature: Base64(8, 72), issuedAt: DateTime },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type KtsResponseBody = Static<typeof KtsResponseBody>;

export const AckReply = Type.Object({ ack: Type.Literal(true) });

export const KtsRegisterBody = Type.Object(
  { transactionId: Uuid, endpointPublicKey: Base64(65, 65) },
  { additionalProperties: false },
);
export type KtsRegisterBody = Static<typeof KtsRegisterBody>;

export const KeyAttestationReply = Type.Object({
  keyId: Uuid,
  vehicleId: VehicleId,
  endpointPublicKeyHash: Type.String({ description: "SHA-256 of the endpoint public key, hex" }),
  issuedAt: Type.String({ format: "date-time" }),
  signature: Type.String({ description: "ECDSA P-256 DER over the attestation bytes (docs/api.md), base64" }),
});
export type KeyAttestationReply = Static<typeof KeyAttestationReply>;

export const KtsPublicKeyReply = Type.Object({
  algorithm: Type.Literal("ECDSA-P256-SHA256"),
  publicKey: Type.String({ description: "SEC1 uncompressed, base64" }),
});

export const KeySummary = Type.Object({
  keyId: Uuid,
  vehicleId: VehicleId,
  role: Type.Literal("owner"),
  state: Type.Union([Type.Literal("active"), Type.Literal("revoking"), Type.Literal("revoked")]),
  attested: Type.Boolean(),
  createdAt: Type.String({ format: "date-time" }),
  revokedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});
export const KeysReply = Type.Object({ keys: Type.Array(KeySummary) });
export const KeyIdParams = Type.Object({ keyId: Uuid });
export type KeyIdParams = Static<typeof KeyIdParams>;
export const RevokeReply = Type.Object({ keyId: Uuid, state: Type.Literal("revoking") });

export const Vin = Type.String({ pattern: "^[A-Za-z0-9]{11,17}$" });
export const Pin = Type.String({ pattern: "^[0-9]{4,8}$" });
export const Email = Type.String({ format: "email", maxLength: 254 });

export const PortalLinkBody = Type.Object(
  {
    vin: Vin,
    email: Email,
    pin: Pin,
    replaceExisting: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type PortalLinkBody = Static<typeof PortalLinkBody>;

export const HotlineLinkBody = Type.Object(
  {
    vin: Vin,
    email: Type.Optional({
      ...Email,
      description: "The owner the caller says they are; required when the vehicle has several owners",
    }),
    pin: Pin,
    replaceExisting: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type HotlineLinkBody = Static<typeof HotlineLinkBody>;

export const AcceptedReply = Type.Object({ accepted: Type.Literal(true) });

export const RedeemBody = Type.Object(
  { token: Type.String({ pattern: "^[A-Za-z0-9_-]{43}$" }) },
  { additionalProperties: false },
);
export type RedeemBody = Static<typeof RedeemBody>;

export const NewUserBody = Type.Object(
  {
    id: UserId,
    email: Email,
    displayName: Text(1, 100),
    role: Type.Union([Type.Literal("customer"), Type.Literal("agent"), Type.Literal("admin")]),
  },
  { additionalProperties: false },
);
export type NewUserBody = Static<typeof NewUserBody>;

export const NewVehicleBody = Type.Object(
  {
    id: VehicleId,
    vin: Vin,
    model: Text(1, 100),
    identityPublicKey: Base64(65, 65),
    policyFlags: Type.Integer({ minimum: 0, maximum: 255 }),
  },
  { additionalProperties: false },
);
export type NewVehicleBody = Static<typeof NewVehicleBody>;

export const OwnershipBody = Type.Object({ userId: UserId, pin: Pin }, { additionalProperties: false });
export type OwnershipBody = Static<typeof OwnershipBody>;

export const SubscriptionBody = Type.Object(
  { userId: UserId, validUntil: DateTime },
  { additionalProperties: false },
);
export type SubscriptionBody = Static<typeof SubscriptionBody>;

const IsoTime = Type.String({ format: "date-time" });
const NullableIsoTime = Type.Union([IsoTime, Type.Null()]);
const HexDigest = Type.String({ pattern: "^[0-9a-f]+$", description: "hex" });
const Base64Bytes = Type.String({ contentEncoding: "base64" });

export const MyVehicle = Type.Object({
  vehicleId: VehicleId,
  vin: Type.String(),
  model: Type.String(),
  subscribed: Type.Boolean({ description: "A digital key subscription is valid now" }),
  subscriptionValidUntil: Type.Union([IsoTime, Type.Null()], {
    description: "End of the digital key subscription (possibly past); null: never subscribed",
  }),
  ownerKey: Type.Union(
    [
      Type.Object({
        keyId: Uuid,
        state: Type.Union([Type.Literal("active"), Type.Literal("revoking")]),
        attested: Type.Boolean(),
      }),
      Type.Null(),
    ],
    { description: "The caller's current (active or revoking) owner key for the vehicle" },
  ),
});
export const MyVehiclesReply = Type.Object({ vehicles: Type.Array(MyVehicle) });

export const LimitQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.String({
        // Query values arrive as strings and the server does not coerce types: 1–500 as digits.
        pattern: "^(?:[1-9][0-9]?|[1-4][0-9]{2}|500)$",
        description: "Newest items to return, 1–500 (default 50)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type LimitQuery = Static<typeof LimitQuery>;

const SessionStatusSchema = Type.Union(
  ["provisioning", "open", "paired", "failed", "expired", "superseded"].map((s) => Type.Literal(s)),
);
export const AdminSession = Type.Object({
  sessionId: Uuid,
  userId: Type.String(),
  vehicleId: VehicleId,
  status: SessionStatusSchema,
  channel: Type.Union([Type.Literal("app"), Type.Literal("portal"), Type.Literal("hotline")]),
  issuedAt: IsoTime,
  expiresAt: IsoTime,
  attemptCount: Type.Integer({ minimum: 0 }),
  maxAttempts: Type.Integer({ minimum: 1 }),
  replaceExisting: Type.Boolean(),
  deviceInfo: Type.Union([
    Type.Object({ platform: Type.String(), model: Type.String(), appVersion: Type.String() }),
    Type.Null(),
  ]),
  failureCode: Type.Union([Type.String(), Type.Null()]),
});
export const AdminSessionsReply = Type.Object({ items: Type.Array(AdminSession) });

export const AdminTransaction = Type.Object({
  transactionId: Uuid,
  sessionId: Uuid,
  userId: Type.String(),
  vehicleId: VehicleId,
  status: Type.Union(["started", "configured", "attested", "failed"].map((s) => Type.Literal(s))),
  policyFlags: Type.Integer({ minimum: 0, maximum: 255 }),
  vehiclePublicKeyHash: HexDigest,
  deviceNonce: Base64Bytes,
  vehicleNonce: Base64Bytes,
  configDigest: Type.Union([HexDigest, Type.Null()]),
  endpointIdHash: Type.Union([HexDigest, Type.Null()]),
  createdAt: IsoTime,
});
export const AdminTransactionsReply = Type.Object({ items: Type.Array(AdminTransaction) });

export const AdminKey = Type.Object({
  keyId: Uuid,
  vehicleId: VehicleId,
  ownerUserId: Type.String(),
  role: Type.Literal("owner"),
  state: Type.Union([Type.Literal("active"), Type.Literal("revoking"), Type.Literal("revoked")]),
  attested: Type.Boolean(),
  endpointIdHash: HexDigest,
  endpointPublicKey: Type.Union([Base64Bytes, Type.Null()], {
    description: "SEC1 uncompressed, base64; null until registered with the KTS",
  }),
  transactionId: Uuid,
  createdAt: IsoTime,
  revokedAt: NullableIsoTime,
});
export const AdminKeysReply = Type.Object({ items: Type.Array(AdminKey) });

export const AdminAttestation = Type.Object({
  keyId: Uuid,
  transactionId: Uuid,
  vehicleId: VehicleId,
  issuedAt: IsoTime,
  signature: Type.String({ contentEncoding: "base64", description: "ECDSA P-256 DER" }),
  verified: Type.Boolean({ description: "The phone handed it back and it verified" }),
});
export const AdminAttestationsReply = Type.Object({ items: Type.Array(AdminAttestation) });

export const AdminAuditReply = Type.Object({
  entries: Type.Array(
    Type.Object({
      id: Type.Integer({ minimum: 1, description: "Position in the chain" }),
      at: IsoTime,
      actor: Type.String(),
      action: Type.String({ description: "Dotted event name, e.g. pairing.completed" }),
      detail: Type.Record(Type.String(), Type.Unknown()),
      hash: HexDigest,
    }),
  ),
  chain: Type.Object({
    intact: Type.Boolean(),
    checked: Type.Integer({ minimum: 0, description: "Entries verified from the start of the chain" }),
    firstBrokenId: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  }),
});

export const DevTrustAnchorsReply = Type.Object({
  certificates: Type.Array(Type.String({ contentEncoding: "base64", description: "DER certificate" })),
});
export const DevCard = Type.Object({
  name: Type.String(),
  qrText: Type.String(),
  qrPngBase64: Type.String({ contentEncoding: "base64" }),
});
export const DevCardsReply = Type.Object({ cards: Type.Array(DevCard) });
