import { PairkitError, TimeoutError, TransportError } from "@pairkit/core";

/** Documented in docs/cli.md; scripts may rely on them. */
export const EXIT = {
  OK: 0,
  /** A pairing, check or scenario ran and failed. */
  FAILURE: 1,
  /** Bad flags or arguments. */
  USAGE: 2,
  /** A service the command needs could not be reached (server, broker, radio, database). */
  UNREACHABLE: 3,
  /** A bug: an error that is not one of pairkit's typed errors. */
  INTERNAL: 70,
} as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof PairkitError && error.code === "INVALID_CONFIG") return EXIT.USAGE;
  if ((error as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE") return EXIT.FAILURE;
  if (error instanceof TransportError || error instanceof TimeoutError) return EXIT.UNREACHABLE;
  if (error instanceof PairkitError) return EXIT.FAILURE;
  return EXIT.INTERNAL;
}
