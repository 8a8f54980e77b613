import { readFile } from "node:fs/promises";
import { ConfigError } from "@pairkit/server";
import { InvalidArgumentError } from "commander";

/** Flag parsers: a bad value is a usage error (exit 2) naming the flag, before anything starts. */

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError("not a port number");
  return port;
}

export function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("not a positive integer");
  return n;
}

/**
 * An ATT MTU to offer, [23, 517] (Bluetooth Core Vol 3 Part F §3.2.8; docs/radio.md `hello.mtu`).
 * The link uses the smaller of the two offers (docs/protocol.md §2.1).
 */
export function parseAttMtu(value: string): number {
  const mtu = Number(value);
  if (!Number.isInteger(mtu) || mtu < 23 || mtu > 517)
    throw new InvalidArgumentError("not an ATT MTU (23–517)");
  return mtu;
}

/** A model name as DEVICE_CONFIG's descriptor carries it (docs/protocol.md §3.5): 1–64 characters. */
export function parseModelName(value: string): string {
  if (value.length < 1 || value.length > 64) throw new InvalidArgumentError("must be 1–64 characters");
  return value;
}

/** What a central offers unless told otherwise: the maximum, as docs/protocol.md §2.1 says. */
export const DEFAULT_ATT_MTU = 517;

/** A flag's default from the environment, checked like the flag: a bad value names the variable. */
export function envDefault<T>(
  env: NodeJS.ProcessEnv,
  name: string,
  parse: (value: string) => T,
): T | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  try {
    return parse(value);
  } catch (error) {
    throw new ConfigError(name, error instanceof Error ? error.message : "invalid");
  }
}

export function parseHttpUrl(value: string): string {
  return parseUrl(value, ["http:", "https:"]);
}

export function parseWsUrl(value: string): string {
  return parseUrl(value, ["ws:", "wss:"]);
}

function parseUrl(value: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("not a URL");
  }
  if (!protocols.includes(url.protocol))
    throw new InvalidArgumentError(`expected ${protocols.join(" or ")} URL`);
  return value.replace(/\/+$/, "");
}

/** Reads a file named on the command line; a missing or unreadable one is a usage error. */
export async function readArgumentFile(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new ConfigError(flag, `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? "error"}`);
  }
}
