import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, type JSONWebKeySet, SignJWT } from "jose";

const ALGORITHM = "ES256";

/**
 * The development identity provider: an in-process ES256 key that mints user tokens for the
 * seeded demo users (`POST /dev/token`). It exists only when the server runs in development mode;
 * production verifies tokens of an external issuer by its JWKS URL.
 */
export class DevIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly jwks: JSONWebKeySet;
  readonly #privateKey: CryptoKey;
  readonly #kid: string;

  private constructor(
    issuer: string,
    audience: string,
    privateKey: CryptoKey,
    jwks: JSONWebKeySet,
    kid: string,
  ) {
    this.issuer = issuer;
    this.audience = audience;
    this.#privateKey = privateKey;
    this.jwks = jwks;
    this.#kid = kid;
  }

  static async create(issuer: string, audience: string): Promise<DevIssuer> {
    const { privateKey, publicKey } = await generateKeyPair(ALGORITHM);
    const kid = randomUUID();
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: ALGORITHM, use: "sig" };
    return new DevIssuer(issuer, audience, privateKey, { keys: [jwk] }, kid);
  }

  /** A token for `subject` (a user id), valid for `ttlSeconds`. */
  mint(subject: string, ttlSeconds: number, nowMs: number): Promise<string> {
    const now = Math.floor(nowMs / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, kid: this.#kid, typ: "JWT" })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .setJti(randomUUID())
      .sign(this.#privateKey);
  }
}
