import { PairkitError } from "@pairkit/core";

/**
 * Stable error codes of the HTTP API (seed 001 §4 error schema) with their HTTP status.
 * Clients branch on `code`; the table is the single source of truth for the status.
 */
export const API_ERRORS = {
  BAD_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  NOT_OWNER: 403,
  NO_SUBSCRIPTION: 403,
  OWNER_DEVICE_EXISTS: 409,
  PAIRING_IN_PROGRESS: 409,
  SESSION_NOT_FOUND: 404,
  TRANSACTION_NOT_FOUND: 404,
  SESSION_CLOSED: 409,
  PAIRING_PASSWORD_EXPIRED: 410,
  ATTEMPTS_EXHAUSTED: 423,
  PIN_INVALID: 403,
  PIN_LOCKED: 423,
  LINK_INVALID: 410,
  KEY_NOT_FOUND: 404,
  KEY_NOT_ACTIVE: 409,
  INVALID_ATTESTATION: 400,
  RATE_LIMITED: 429,
  SERVER_BUSY: 503,
  VEHICLE_OFFLINE: 504,
  VEHICLE_REJECTED: 502,
  NOT_READY: 503,
  INTERNAL: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ApiErrorDetails {
  /** Attempts left in the session (seed 001 §4). */
  readonly remainingAttempts?: number;
  /** Seconds until a retry can succeed; also sent as the Retry-After header. */
  readonly retryAfter?: number;
  readonly cause?: unknown;
}

/** An error that reaches an API client as the seed's error schema. Messages never carry secrets. */
export class ApiError extends PairkitError {
  declare readonly code: ApiErrorCode;
  readonly status: number;
  readonly remainingAttempts: number | undefined;
  readonly retryAfter: number | undefined;

  constructor(code: ApiErrorCode, message: string, details: ApiErrorDetails = {}) {
    super(code, message, { cause: details.cause });
    this.status = API_ERRORS[code];
    this.remainingAttempts = details.remainingAttempts;
    this.retryAfter = details.retryAfter;
  }
}

/** Configuration is missing or malformed; raised once at startup. */
export class ConfigError extends PairkitError {
  constructor(variable: string, reason: string) {
    super("INVALID_CONFIG", `${variable}: ${reason}`);
  }
}
