import { ApiError, apiErrorFrom, TransportError } from "@pairkit/core";

/**
 * JSON calls to the pairing server the console was loaded from. A signed-in part of the console
 * passes its token, which lives only in that part's memory: never in a URL, never in storage.
 */
export async function call<T>(
  method: "GET" | "POST",
  path: string,
  options: { token?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
      ...(options.signal && { signal: options.signal }),
    });
  } catch (cause) {
    throw new TransportError("HTTP_UNREACHABLE", "the pairing server cannot be reached", { cause });
  }
  const reply: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw apiErrorFrom(response, reply);
  if (typeof reply !== "object" || reply === null)
    throw new ApiError("INVALID_RESPONSE", `${path}: the reply is not JSON`);
  return reply as T;
}

/** A signed-in demo user: `POST /dev/token` (development mode). */
export async function signIn(userId: string): Promise<string> {
  const { token } = await call<{ token: string }>("POST", "/dev/token", { body: { userId } });
  return token;
}

export interface ConsoleSettings {
  /** The WebSocket radio the simulated vehicles and cards are on. */
  readonly radioUrl?: string;
}

export function loadSettings(): Promise<ConsoleSettings> {
  return call<ConsoleSettings>("GET", "/console/settings.json");
}
