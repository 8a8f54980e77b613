import {
  derivePasswordScalars,
  prepareProver,
  prepareVerifier,
  Spake2PlusProver,
  Spake2PlusVerifier,
  utf8,
} from "@pairkit/core";
import { nodeCrypto } from "@pairkit/core/node";
import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import type { ProvisionMessage } from "../../src/vehicle-link/messages.ts";
import { DEVICE_INFO } from "./server.ts";

export const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
export const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** Polls `check` until it holds (a few seconds at most). */
export async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("condition not reached");
}

/** An authenticated call: GET without a payload, POST with one. */
export function call(app: FastifyInstance, token: string, url: string, payload?: unknown) {
  return app.inject({
    method: payload === undefined ? "GET" : "POST",
    url,
    headers: { authorization: `Bearer ${token}` },
    payload: payload as object,
  });
}

/** SPAKE2+ between the issued password (phone) and the verifier the vehicle was sent. */
export async function handshake(password: string, provision: ProvisionMessage) {
  const salt = Buffer.from(provision.salt, "base64");
  const scalars = await derivePasswordScalars(nodeCrypto, password, salt, provision.scrypt);
  const w0 = BigInt(`0x${Buffer.from(provision.w0, "base64").toString("hex")}`);
  const L = new Uint8Array(Buffer.from(provision.L, "base64"));
  const params = {
    profile: "rfc9383" as const,
    context: utf8("pairkit test"),
    idProver: utf8("phone"),
    idVerifier: utf8("vehicle"),
  };
  const prover = new Spake2PlusProver(nodeCrypto, params, prepareProver(nodeCrypto, scalars));
  const verifier = new Spake2PlusVerifier(nodeCrypto, params, prepareVerifier(nodeCrypto, { w0, L }));
  const { shareV, confirmV } = verifier.receiveShareP(prover.shareP);
  prover.receiveShareV(shareV);
  prover.verifyConfirmV(confirmV);
  return { pointX: prover.shareP };
}

/** Password, one attempt, endpoint: the owner key exists (not yet registered with the KTS). */
export async function pairOnce(
  app: FastifyInstance,
  token: string,
  vehicleId: string,
  provisions: ProvisionMessage[],
  replaceExisting = false,
) {
  const issued = await call(app, token, "/pairing/password/request", {
    vehicleId,
    deviceInfo: DEVICE_INFO,
    replaceExisting,
  });
  expect(issued.statusCode, issued.body).toBe(200);
  const { sessionId, pairingPassword } = issued.json();
  const provision = provisions.find((p) => p.sessionId === sessionId)!;
  const { pointX } = await handshake(pairingPassword, provision);

  const started = await call(app, token, "/pairing/session/start", {
    sessionId,
    devicePublicInfo: { deviceNonce: b64(nodeCrypto.randomBytes(16)), pointX: b64(pointX) },
  });
  expect(started.statusCode, started.body).toBe(200);
  const { transactionId, remainingAttempts } = started.json();
  expect(remainingAttempts).toBe(4);

  const endpoint = nodeCrypto.generateKeyPair();
  const endpointIdHash = hex(nodeCrypto.sha256(endpoint.publicKey).subarray(0, 16));
  const confirmed = await call(app, token, "/pairing/config/confirm", {
    transactionId,
    configDigest: hex(nodeCrypto.sha256(utf8("device config"))),
    endpointIdHash,
    seStatus: 0,
  });
  expect(confirmed.statusCode, confirmed.body).toBe(200);
  const { keyId, ktsEndpointUrl } = confirmed.json();
  expect(ktsEndpointUrl).toMatch(/\/kts\/attestations$/);
  return { sessionId, transactionId, keyId, endpoint, endpointIdHash, pairingPassword };
}
