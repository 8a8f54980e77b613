import type { Clock } from "@pairkit/core";
import { createLocalJWKSet, createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { JwtConfig } from "../config.ts";
import type { Db } from "../db/database.ts";
import type { UserRole } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import type { DevIssuer } from "./dev-issuer.ts";

export interface Principal {
  readonly userId: string;
  readonly role: UserRole;
}

/** Asymmetric algorithms only: a shared-secret (HS*) or `none` token is never accepted. */
const ALGORITHMS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"];

export type Authenticator = (token: string | undefined) => Promise<Principal>;

/** A user id as `/admin/users` registers it; a `sub` of any other shape names nobody. */
const SUBJECT = /^[A-Za-z0-9_.@-]{1,64}$/;

/** The keys user tokens are verified with, and whether they can be had right now (`/readyz`). */
export interface IdentityKeys {
  readonly getKey: JWTVerifyGetKey;
  /** Resolves when the keys are in hand (fetching them if the cache is stale); rejects otherwise. */
  available(): Promise<void>;
}

/** The identity provider's JWKS (fetched and cached by jose), or the development issuer's keys. */
export function identityKeys(config: JwtConfig, devIssuer: DevIssuer | undefined): IdentityKeys {
  if (config.jwksUrl !== undefined) {
    const remote = createRemoteJWKSet(new URL(config.jwksUrl));
    return {
      getKey: remote,
      available: async () => {
        if (!remote.fresh) await remote.reload();
      },
    };
  }
  if (devIssuer !== undefined)
    return { getKey: createLocalJWKSet(devIssuer.jwks), available: async () => {} };
  throw new Error("authenticator: neither a JWKS URL nor a development issuer");
}

/**
 * Verifies a user JWT (signature against the issuer's JWKS, `iss`, `aud`, `exp`/`nbf` with 30 s of
 * clock skew) and maps its subject to a known user. Identity comes from the token; the role comes
 * from the database, so the issuer cannot grant the agent role by itself.
 */
export function createAuthenticator(
  config: JwtConfig,
  keys: IdentityKeys,
  db: Db,
  clock: Clock,
): Authenticator {
  return async (token) => {
    if (token === undefined || token === "")
      throw new ApiError("UNAUTHENTICATED", "a bearer token is required");
    let subject: unknown;
    try {
      const { payload } = await jwtVerify(token, keys.getKey, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: ALGORITHMS,
        clockTolerance: 30,
        currentDate: new Date(clock.now()),
        requiredClaims: ["sub", "exp"],
      });
      subject = payload.sub;
    } catch (cause) {
      // jose's message names the failed check (issuer, audience, expiry) and never the token.
      throw new ApiError("UNAUTHENTICATED", "invalid token", { cause });
    }
    // jose checks that `sub` is present, not its type: an array or a NUL-bearing string must not
    // reach the query (an array once matched a user; a NUL is refused by PostgreSQL as a 500).
    if (typeof subject !== "string" || !SUBJECT.test(subject))
      throw new ApiError("UNAUTHENTICATED", "invalid token subject");
    const user = await db
      .selectFrom("users")
      .select(["id", "role"])
      .where("id", "=", subject)
      .executeTakeFirst();
    if (!user) throw new ApiError("UNAUTHENTICATED", "unknown user");
    return { userId: user.id, role: user.role };
  };
}

/** The token of an `Authorization: Bearer …` header, undefined when absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer ([A-Za-z0-9._~+/-]+=*)$/);
  return match?.[1];
}

/** The caller's principal when they are an administrator: UNAUTHENTICATED or FORBIDDEN otherwise. */
export async function authenticateAdmin(
  authenticate: Authenticator,
  authorization: string | undefined,
): Promise<Principal> {
  const principal = await authenticate(bearerToken(authorization));
  if (principal.role !== "admin") throw new ApiError("FORBIDDEN", "administrators only");
  return principal;
}
