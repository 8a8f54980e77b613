import { PairkitError, TransportError } from "@pairkit/core";

/**
 * An ATT-level failure on a live connection: the peer answered with an ATT error, a value did not
 * fit the MTU, or a service/characteristic is missing. Connection-level failures (not connected,
 * disconnected, connect failed) are plain {@link TransportError}s with those codes.
 */
export class GattError extends TransportError {
  /** The ATT error code (Bluetooth Core Vol 3 Part F 3.4.1.1) when the peer sent one. */
  readonly attError: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; attError?: number }) {
    super(code, message, options);
    this.attError = options?.attError;
  }
}

/** An optional BLE library or platform API is not installed or not present (noble, bleno, navigator.bluetooth). */
export class AdapterUnavailableError extends PairkitError {
  constructor(what: string, hint: string, options?: { cause?: unknown }) {
    super("ADAPTER_UNAVAILABLE", `${what} is not available: ${hint}`, options);
  }
}

/** ATT error codes pairkit sends or maps (Bluetooth Core Vol 3 Part F 3.4.1.1). */
export const AttError = {
  WRITE_NOT_PERMITTED: 0x03,
  INVALID_ATTRIBUTE_VALUE_LENGTH: 0x0d,
  UNLIKELY_ERROR: 0x0e,
} as const;

export function disconnectedError(cause?: unknown): TransportError {
  return new TransportError("DISCONNECTED", "the BLE connection ended", { cause });
}

export function notConnectedError(): TransportError {
  return new TransportError("NOT_CONNECTED", "not connected");
}
