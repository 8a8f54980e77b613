import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";

export const ISSUER = "https://id.example.test";
export const AUDIENCE = "pairkit-api";

/**
 * An external identity provider: a key pair and its JWKS served over HTTP, as the server fetches
 * it. `available = false` makes it answer 503, as an identity provider that is down.
 */
export async function startIdentityProvider() {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] };
  const state = { available: true };
  const server: Server = createServer((_req, res) => {
    if (!state.available) {
      res.statusCode = 503;
      res.end();
      return;
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  /** A token with the usual claims; `claims` overrides or adds any (e.g. a non-string `sub`). */
  const sign = (claims: JWTPayload = {}, key = privateKey) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "alice", iat: now, exp: now + 600, ...claims })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .sign(key);
  };
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    sign,
    state,
    close: () => new Promise((r) => server.close(r)),
  };
}
