import { PairkitError } from "@pairkit/core";

/** The database failed or refused a statement for a reason that is not a domain rule. */
export class DatabaseError extends PairkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("DATABASE_ERROR", message, options);
  }
}

/**
 * True for PostgreSQL's unique_violation (23505), optionally on one named constraint/index.
 * Both drivers (pg and PGlite) surface the server's SQLSTATE as `code` and the index as `constraint`.
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, constraint: name } = error as { code?: unknown; constraint?: unknown };
  return code === "23505" && (constraint === undefined || name === constraint);
}
