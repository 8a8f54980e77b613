import { ApiError, decodeBase64, encodeBase64, type ScryptParams, TransportError } from "@pairkit/core";

/** What `POST /pairing/password/request` and `POST /portal/redeem` return (docs/api.md). */
export interface PasswordGrant {
  readonly sessionId: string;
  readonly pairingPassword: string;
  readonly maxAttempts: number;
  readonly scrypt: ScryptParams;
}

export interface ServerKey {
  readonly keyId: string;
  readonly vehicleId: string;
  readonly state: string;
  readonly attested: boolean;
}

/** One message the development SMTP sink received, as it came over SMTP. */
export interface SinkMail {
  readonly envelopeTo: readonly string[];
  readonly raw: string;
}

type Json = Record<string, unknown>;

/** The device the CLI says it is in password requests (a Node "phone"). */
const DEVICE_INFO = { platform: "node", model: "pairkit-cli", appVersion: "0.1.0" } as const;

/**
 * The calls the CLI's phone side and the demo make to the pairing server besides the SDK's
 * `HttpPairingApi`: tokens and mail in development mode, password requests, the portal, keys.
 * No reply → `TransportError` (exit 3); an error reply → the server's `ApiError`. Tokens and
 * passwords are returned to the caller, never logged.
 */
export class ServerClient {
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  async devToken(userId: string): Promise<string> {
    return stringField(await this.#request("POST", "/dev/token", { body: { userId } }), "token");
  }

  async ktsPublicKey(): Promise<Uint8Array> {
    return decodeBase64(stringField(await this.#request("GET", "/kts/public-key"), "publicKey"), "publicKey");
  }

  async requestPassword(token: string, vehicleId: string, replaceExisting = false): Promise<PasswordGrant> {
    const reply = await this.#request("POST", "/pairing/password/request", {
      token,
      body: { vehicleId, deviceInfo: DEVICE_INFO, ...(replaceExisting ? { replaceExisting } : {}) },
    });
    return passwordGrant(reply);
  }

  /** The portal flow's first step: VIN + e-mail + owner PIN; the link goes out by e-mail. */
  async requestPortalLink(request: { vin: string; email: string; pin: string }): Promise<void> {
    await this.#request("POST", "/portal/password-link", { body: request });
  }

  async redeemLink(linkToken: string): Promise<PasswordGrant> {
    return passwordGrant(await this.#request("POST", "/portal/redeem", { body: { token: linkToken } }));
  }

  async devMailbox(): Promise<readonly SinkMail[]> {
    const reply = await this.#request("GET", "/dev/mailbox");
    if (!Array.isArray(reply.messages)) throw malformed("messages");
    return reply.messages.map((m: Json) => ({
      envelopeTo: Array.isArray(m.envelopeTo) ? m.envelopeTo.map(String) : [],
      raw: String(m.raw ?? ""),
    }));
  }

  async keys(token: string): Promise<readonly ServerKey[]> {
    const reply = await this.#request("GET", "/keys", { token });
    if (!Array.isArray(reply.keys)) throw malformed("keys");
    return reply.keys as ServerKey[];
  }

  async revokeKey(token: string, keyId: string): Promise<void> {
    await this.#request("POST", `/keys/${encodeURIComponent(keyId)}/revoke`, { token, body: {} });
  }

  /** Development mode: MQTT credentials for a (simulated) vehicle, registering its identity key. */
  async vehicleCredentials(
    vehicleId: string,
    identityPublicKey: Uint8Array,
  ): Promise<{ mqttUrl: string; password: string }> {
    const reply = await this.#request("POST", `/dev/vehicles/${encodeURIComponent(vehicleId)}/credentials`, {
      body: { identityPublicKey: encodeBase64(identityPublicKey) },
    });
    return { mqttUrl: stringField(reply, "mqttUrl"), password: stringField(reply, "password") };
  }

  /** Development mode: the carmaker roots a phone of this deployment trusts. */
  async trustAnchors(): Promise<Uint8Array[]> {
    const reply = await this.#request("GET", "/dev/trust-anchors");
    if (!Array.isArray(reply.certificates)) throw malformed("certificates");
    return reply.certificates.map((c: unknown, i: number) => decodeBase64(String(c), `certificates[${i}]`));
  }

  async #request(method: "GET" | "POST", path: string, options: { token?: string; body?: Json } = {}) {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(options.body === undefined ? {} : { "content-type": "application/json" }),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    } catch (cause) {
      throw new TransportError(
        "HTTP_UNREACHABLE",
        `the pairing server at ${this.baseUrl} cannot be reached`,
        {
          cause,
        },
      );
    }
    const reply = (await response.json().catch(() => ({}))) as unknown;
    const body = typeof reply === "object" && reply !== null && !Array.isArray(reply) ? (reply as Json) : {};
    if (!response.ok) {
      const code = typeof body.code === "string" ? body.code : `HTTP_${response.status}`;
      const message = typeof body.message === "string" ? body.message : `HTTP ${response.status}`;
      const remaining = body.remainingAttempts;
      throw new ApiError(code, `${method} ${path}: ${message}`, {
        ...(typeof remaining === "number" ? { remainingAttempts: remaining } : {}),
      });
    }
    return body;
  }
}

function passwordGrant(reply: Json): PasswordGrant {
  const scrypt = reply.scrypt as ScryptParams | undefined;
  if (typeof reply.maxAttempts !== "number" || typeof scrypt?.N !== "number")
    throw malformed("password reply");
  return {
    sessionId: stringField(reply, "sessionId"),
    pairingPassword: stringField(reply, "pairingPassword"),
    maxAttempts: reply.maxAttempts,
    scrypt: { N: scrypt.N, r: scrypt.r, p: scrypt.p },
  };
}

function stringField(reply: Json, field: string): string {
  const value = reply[field];
  if (typeof value !== "string" || value.length === 0) throw malformed(field);
  return value;
}

function malformed(field: string): ApiError {
  return new ApiError("INVALID_RESPONSE", `the pairing server's reply has a malformed ${field}`);
}
