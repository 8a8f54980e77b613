/**
 * What a database error may say in a log line. Both drivers attach more: `detail` quotes row values
 * ("Failing row contains (…, <the one-time link>, …)"), `where`/`internalQuery` quote SQL, and
 * PGlite adds the statement's `params` and `query`. Only these fields name the failure without
 * carrying data.
 */
const DATABASE_FIELDS = [
  "code",
  "severity",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "routine",
];

interface ErrorLike {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly cause?: unknown;
}

function isErrorLike(value: unknown): value is ErrorLike {
  return value instanceof Error;
}

/** A server error report from PostgreSQL or PGlite: a SQLSTATE code and a severity. */
function isDatabaseError(error: ErrorLike): boolean {
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && typeof severity === "string";
}

/** Class 22 (data exception) messages quote the offending input, e.g. `invalid input syntax for type uuid: "…"`. */
function databaseMessage(error: ErrorLike): string {
  const { code } = error as unknown as { code: string };
  return code.startsWith("22") ? `data exception (SQLSTATE ${code})` : error.message;
}

/** The stack without its first line, which repeats the message. */
function frames(stack: string | undefined): string {
  return stack?.split("\n").slice(1).join("\n") ?? "";
}

/**
 * pino's `err` serializer. The standard one copies every enumerable field of an error, and errors
 * carry data: a driver error its row values and parameters, Kysely's NoResultError the query tree
 * with its values. This one keeps type, message and stack, an error's own fields only when they are
 * plain values (codes, statuses, errno), causes as nested objects, and reduces database errors
 * (anywhere in the cause chain) to DATABASE_FIELDS with a message that quotes no data.
 */
export function serializeError(error: unknown): unknown {
  return isErrorLike(error) ? serialize(error, new Set()) : error;
}

function serialize(error: ErrorLike, seen: Set<unknown>): Record<string, unknown> {
  seen.add(error);
  const type = error.constructor?.name ?? error.name;
  const out: Record<string, unknown> = { type };
  const nested = (value: unknown) =>
    isErrorLike(value) && !seen.has(value) ? serialize(value, seen) : undefined;
  if (isDatabaseError(error)) {
    out.message = databaseMessage(error);
    out.stack = `${type}: ${out.message}\n${frames(error.stack)}`;
    const fields = error as unknown as Record<string, unknown>;
    for (const field of DATABASE_FIELDS) if (fields[field] !== undefined) out[field] = fields[field];
  } else {
    out.message = error.message;
    out.stack = error.stack;
    for (const [key, value] of Object.entries(error)) {
      if (key === "cause" || key in out) continue;
      if (isErrorLike(value)) out[key] = nested(value);
      else if (value === null || ["string", "number", "boolean"].includes(typeof value)) out[key] = value;
    }
    if (Array.isArray((error as { errors?: unknown }).errors)) {
      out.aggregateErrors = (error as unknown as { errors: unknown[] }).errors.map(nested);
    }
  }
  if (isErrorLike(error.cause)) out.cause = nested(error.cause);
  return out;
}
