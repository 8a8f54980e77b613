/**
 * The waits of seed 001 §2, in milliseconds. The link enforces the missing-chunk cut-off
 * itself; protocol code passes the others to `Link.receive` or an AbortSignal.
 */
/** Waiting for the answer to one command. */
export const RESPONSE_TIMEOUT_MS = 5_000;
/** The whole SPAKE2+ sequence, SELECT to SPAKE2_VERIFY_RESPONSE. */
export const SPAKE2_TIMEOUT_MS = 20_000;
/** The whole device configuration transfer. */
export const CONFIG_TIMEOUT_MS = 30_000;
/** Silence between two chunks of one message before the partial message is dropped. */
export const MISSING_CHUNK_TIMEOUT_MS = 5_000;
