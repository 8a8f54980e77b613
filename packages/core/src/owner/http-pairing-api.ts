import { decodeBase64, encodeBase64 } from "../base64.ts";
import { fromHex, toHex, utf8 } from "../bytes.ts";
import { AbortedError, TransportError } from "../errors.ts";
import { KEY_ID_LENGTH } from "./constants.ts";
import { ApiError } from "./errors.ts";
import type { KeyAttestation } from "./key-attestation.ts";
import type { PairingApi } from "./ports.ts";

export interface HttpPairingApiOptions {
  /** The pairing server, e.g. `https://pairing.example.com`; paths of docs/api.md are appended. */
  readonly baseUrl: string;
  /** The user's bearer token (JWT); asked for before every call, so it can be refreshed. */
  readonly token: () => string | Promise<string>;
  /** Defaults to the global `fetch`. */
  readonly fetch?: typeof fetch;
  /**
   * Origins the bearer token may be sent to as a KTS (`ktsEndpointUrl` comes from the server's
   * reply). Defaults to the origin of `baseUrl` alone, so a tampered reply cannot exfiltrate it.
   */
  readonly ktsOrigins?: readonly string[];
}

type Json = Record<string, unknown>;

/**
 * The `PairingApi` over the pairing server's HTTP API (docs/api.md, seed 001 §4). Bytes travel as
 * base64 and digests as lower-case hex, as the server's schemas say. A non-2xx reply rejects with
 * the server's `ApiError` (code, remainingAttempts, retryAfter); no reply at all with a
 * `TransportError`; an abort with an `AbortedError`.
 */
export class HttpPairingApi implements PairingApi {
  readonly #baseUrl: string;
  readonly #token: () => string | Promise<string>;
  readonly #fetch: typeof fetch;
  readonly #ktsOrigins: ReadonlySet<string>;

  constructor(options: HttpPairingApiOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#ktsOrigins = new Set(options.ktsOrigins ?? [new URL(this.#baseUrl).origin]);
  }

  async startSession(
    request: {
      readonly sessionId: string;
      readonly devicePublicInfo: { readonly deviceNonce: Uint8Array; readonly pointX: Uint8Array };
    },
    options: { signal?: AbortSignal } = {},
  ): Promise<{ readonly transactionId: string }> {
    const reply = await this.#post(
      `${this.#baseUrl}/pairing/session/start`,
      {
        sessionId: request.sessionId,
        devicePublicInfo: {
          deviceNonce: encodeBase64(request.devicePublicInfo.deviceNonce),
          pointX: encodeBase64(request.devicePublicInfo.pointX),
        },
      },
      options.signal,
    );
    return { transactionId: stringField(reply, "transactionId") };
  }

  async confirmConfig(
    request: {
      readonly transactionId: string;
      readonly configDigest: Uint8Array;
      readonly endpointIdHash: Uint8Array;
      readonly seStatus: number;
    },
    options: { signal?: AbortSignal } = {},
  ): Promise<{ readonly ktsEndpointUrl: string }> {
    const reply = await this.#post(
      `${this.#baseUrl}/pairing/config/confirm`,
      {
        transactionId: request.transactionId,
        configDigest: toHex(request.configDigest),
        endpointIdHash: toHex(request.endpointIdHash),
        seStatus: request.seStatus,
      },
      options.signal,
    );
    return { ktsEndpointUrl: stringField(reply, "ktsEndpointUrl") };
  }

  async requestKeyAttestation(
    request: {
      readonly ktsEndpointUrl: string;
      readonly transactionId: string;
      readonly keyId: Uint8Array;
      readonly vehicleId: string;
      readonly endpointPublicKey: Uint8Array;
    },
    options: { signal?: AbortSignal } = {},
  ): Promise<KeyAttestation> {
    let origin: string;
    try {
      origin = new URL(request.ktsEndpointUrl).origin;
    } catch (cause) {
      throw new ApiError("KTS_UNTRUSTED", "ktsEndpointUrl is not a URL", { cause });
    }
    if (!this.#ktsOrigins.has(origin))
      throw new ApiError("KTS_UNTRUSTED", `KTS origin ${origin} is not trusted with the user's token`);
    const reply = await this.#post(
      request.ktsEndpointUrl,
      { transactionId: request.transactionId, endpointPublicKey: encodeBase64(request.endpointPublicKey) },
      options.signal,
    );
    const endpointPublicKeyHash = hexField(reply, "endpointPublicKeyHash", 32);
    const issuedAt = Date.parse(stringField(reply, "issuedAt"));
    if (!Number.isSafeInteger(issuedAt) || issuedAt < 0) throw malformed("issuedAt");
    let signature: Uint8Array;
    try {
      signature = decodeBase64(stringField(reply, "signature"), "signature");
    } catch (cause) {
      throw malformed("signature", cause);
    }
    return {
      // The attested key id is the endpoint's (SHA-256(endpoint public key)[0:16]); the reply's
      // `keyId` is the server's record id. The caller checks both hashes against its own key.
      keyId: endpointPublicKeyHash.slice(0, KEY_ID_LENGTH),
      vehicleId: utf8(stringField(reply, "vehicleId")),
      endpointPublicKeyHash,
      issuedAt,
      signature,
    };
  }

  async reportKtsResponse(
    request: { readonly transactionId: string; readonly keyAttestation: KeyAttestation },
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.#post(
      `${this.#baseUrl}/pairing/kts/response`,
      {
        transactionId: request.transactionId,
        keyAttestation: {
          signature: encodeBase64(request.keyAttestation.signature),
          issuedAt: new Date(request.keyAttestation.issuedAt).toISOString(),
        },
      },
      options.signal,
    );
  }

  async #post(url: string, body: Json, signal: AbortSignal | undefined): Promise<Json> {
    const token = await this.#token();
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
        ...(signal ? { signal } : {}),
      });
    } catch (cause) {
      if (signal?.aborted) throw new AbortedError({ cause });
      throw new TransportError("HTTP_UNREACHABLE", "the pairing server cannot be reached", { cause });
    }
    let reply: unknown;
    try {
      reply = await response.json();
    } catch (cause) {
      if (signal?.aborted) throw new AbortedError({ cause });
      reply = undefined;
    }
    if (!response.ok) throw apiErrorFrom(response, reply);
    if (typeof reply !== "object" || reply === null || Array.isArray(reply))
      throw new ApiError("INVALID_RESPONSE", "the pairing server's reply is not a JSON object");
    return reply as Json;
  }
}

/**
 * The server's error body (seed 001 §4) when it sent one, the HTTP status otherwise. Exported for
 * other clients of the same API (the web console) so every caller reads errors the same way.
 */
export function apiErrorFrom(response: Response, reply: unknown): ApiError {
  const body = typeof reply === "object" && reply !== null ? (reply as Json) : {};
  const code = typeof body.code === "string" ? body.code : `HTTP_${response.status}`;
  const message = typeof body.message === "string" ? body.message : `HTTP ${response.status}`;
  const count = (value: unknown) =>
    typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const header = response.headers.get("retry-after");
  const remainingAttempts = count(body.remainingAttempts);
  const retryAfter = count(body.retryAfter) ?? (header === null ? undefined : count(Number(header)));
  return new ApiError(code, message, {
    ...(remainingAttempts === undefined ? {} : { remainingAttempts }),
    ...(retryAfter === undefined ? {} : { retryAfter }),
  });
}

function malformed(field: string, cause?: unknown): ApiError {
  return new ApiError("INVALID_RESPONSE", `the pairing server's reply has a malformed ${field}`, { cause });
}

function stringField(reply: Json, field: string): string {
  const value = reply[field];
  if (typeof value !== "string" || value.length === 0) throw malformed(field);
  return value;
}

function hexField(reply: Json, field: string, length: number): Uint8Array {
  const value = stringField(reply, field);
  if (!new RegExp(`^[0-9a-fA-F]{${2 * length}}$`).test(value)) throw malformed(field);
  return fromHex(value);
}
