import { CardRefusedError, type OwnerPairingFailure, PairkitError } from "@pairkit/core";

/**
 * Failures in plain words for the person holding the phone. Each code the server (docs/api.md),
 * the vehicle (docs/protocol.md §3.9), the radio or the card can report gets a sentence; the
 * code itself is appended so support can look it up.
 */
const SENTENCES: Record<string, string> = {
  // Pairing password and vehicle
  CONFIRMATION_FAILED: "Wrong pairing password.",
  ATTEMPTS_EXHAUSTED: "No attempts are left for this pairing password. Ask for a new one.",
  VERIFIER_EXPIRED: "This pairing password has expired. Ask for a new one.",
  PAIRING_PASSWORD_EXPIRED: "This pairing password has expired. Ask for a new one.",
  NO_PAIRING_SESSION: "The vehicle is not waiting for this phone. Ask for a new pairing password.",
  SESSION_CLOSED: "This pairing session is over. Ask for a new pairing password.",
  VEHICLE_OFFLINE:
    "The vehicle is offline: it did not answer the server. Check that it is switched on and connected.",
  VEHICLE_REJECTED: "The vehicle refused the pairing request.",
  BUSY: "The vehicle is busy with another phone. Try again in a moment.",
  CERTIFICATE_INVALID: "The vehicle's certificate is not from a carmaker this phone trusts.",
  DISCONNECTED: "The connection to the vehicle was lost.",
  TIMEOUT: "The vehicle stopped answering.",
  KEY_SLOTS_FULL: "The vehicle has no room for another key.",
  OWNER_DEVICE_EXISTS:
    "This vehicle already has an owner key. Tick “replace the existing key” to replace it.",
  PAIRING_IN_PROGRESS: "Another pairing for this vehicle is under way.",
  NO_SUBSCRIPTION: "This vehicle has no active digital-key subscription.",
  NOT_OWNER: "You are not the owner of this vehicle.",
  UNKNOWN_ENDPOINT: "The vehicle does not know this key (it may have been revoked).",
  // Server and portal
  UNAUTHENTICATED: "You are not signed in, or your sign-in has expired.",
  FORBIDDEN: "Your role does not allow this.",
  RATE_LIMITED: "Too many requests.",
  SERVER_BUSY: "The server is busy.",
  PIN_INVALID: "VIN, e-mail address or owner PIN not recognised.",
  PIN_LOCKED: "Too many wrong PINs: the PIN is locked for now.",
  LINK_INVALID: "This link has already been used or has expired. Ask for a new one.",
  HTTP_UNREACHABLE: "The pairing server cannot be reached.",
  // Radios
  RADIO_UNREACHABLE: "The radio cannot be reached: is `pairkit serve` running?",
  RADIO_CLOSED: "The radio connection closed.",
  PERMISSION_DENIED: "The browser did not allow Bluetooth here.",
  ADAPTER_UNAVAILABLE: "No Bluetooth adapter is available in this browser.",
  // Active Card
  CARD_NOT_FOUND: "The card was not found nearby. Check that it is switched on and in range.",
  QR_NOT_FOUND: "No QR code found in that image.",
  QR_IMAGE_INVALID: "That file is not an image the browser can read.",
  QR_MALFORMED: "That QR code is not an Active Card code.",
  QR_STALE: "That QR code is too old or from the future: show a fresh code on the card.",
  WRONG_CARD: "The card nearby is not the card in the QR code.",
  NOT_PAIRED: "The card does not know this phone (it was forgotten). Pair it again.",
  USER_MISMATCH: "The card is bound to another user.",
  PAIRING_FULL: "The card cannot take another phone.",
  SESSION_EXPIRED: "The card session has expired: reconnect.",
  BAD_SIGNATURE: "The card's signature did not check out.",
  // MPC wallets
  UNKNOWN_WALLET: "The card holds no share of this wallet (it forgot this phone, or the wallet is gone).",
  NOT_WALLET_OWNER: "This wallet belongs to another phone or user.",
  POLICY_REFUSED: "The card's policy refused to sign this.",
  DAILY_LIMIT: "The card has signed as many times today as its owner allows.",
  WALLET_FULL: "The card has no room for another wallet.",
  BAD_OPTIONS: "Those wallet settings are not valid (a recovery passphrase needs at least 8 characters).",
};

const REFUSED_IN_PHASE: Record<string, string> = {
  binding:
    "The card refused to bind this user: it belongs to someone else, or it has no room for another phone.",
  forget: "The card refused to forget this phone.",
};

/** Codes come from peers (a card's refusal reason is its own text): no inherited name may match. */
function lookUp(table: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

function sentence(code: string): string {
  return lookUp(SENTENCES, code) ?? "Something went wrong.";
}

function wait(seconds: number | undefined): string {
  if (seconds === undefined) return "";
  return seconds >= 120 ? ` Try again in ${Math.ceil(seconds / 60)} min.` : ` Try again in ${seconds} s.`;
}

/** Any error the console catches. */
export function explainError(error: unknown): string {
  if (error instanceof CardRefusedError) {
    if (error.reason !== "") return `${sentence(error.reason)} (${error.reason})`;
    // PAIRING_CONFIRMATION and FORGET_ACK carry no reason (docs/protocol.md §4.4).
    return `${lookUp(REFUSED_IN_PHASE, error.phase) ?? "The card refused."} (CARD_REFUSED)`;
  }
  if (error instanceof PairkitError) {
    const retryAfter = (error as { retryAfter?: number }).retryAfter;
    const remaining = (error as { remainingAttempts?: number }).remainingAttempts;
    return `${sentence(error.code)}${attempts(remaining)}${wait(retryAfter)} (${error.code})`;
  }
  return `Something went wrong: ${error instanceof Error ? error.message : String(error)}`;
}

function attempts(remaining: number | undefined): string {
  if (remaining === undefined) return "";
  if (remaining === 0) return " No attempts left: ask for a new pairing password.";
  return ` ${remaining} ${remaining === 1 ? "attempt" : "attempts"} left.`;
}

/** A failed `pairOwnerVehicle`. */
export function explainPairingFailure(failure: OwnerPairingFailure): string {
  if (failure.phase === "connect" && failure.code === "TIMEOUT")
    return "The vehicle was not found nearby. Check that it is switched on and in range. (scan TIMEOUT)";
  const retryAfter = (failure.cause as { retryAfter?: number } | undefined)?.retryAfter;
  return `${sentence(failure.code)}${attempts(failure.remainingAttempts)}${wait(retryAfter)} (${failure.code})`;
}
