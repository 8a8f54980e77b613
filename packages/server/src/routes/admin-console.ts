import type { FastifyInstance, FastifyRequest } from "fastify";
import { verifyAuditChain } from "../audit/audit-log.ts";
import { authenticateAdmin } from "../auth/authenticator.ts";
import {
  AdminAttestationsReply,
  AdminAuditReply,
  AdminKeysReply,
  AdminSessionsReply,
  AdminTransactionsReply,
  errorReplies,
  KeyIdParams,
  LimitQuery,
  RevokeReply,
} from "../http/schemas.ts";
import { requestKeyRevocation } from "../keys/revocation.ts";
import type { Services } from "../services.ts";

const DEFAULT_LIMIT = 50;

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/**
 * The administrator's read model for the web console (newest first, never a secret: no salts,
 * verifiers, PIN or token hashes) and the administrator's key revocation.
 */
export async function adminConsoleRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const { db, crypto } = services;
  const admin = (request: FastifyRequest) =>
    authenticateAdmin(services.authenticate, request.headers.authorization);
  const limitOf = (query: LimitQuery) => (query.limit === undefined ? DEFAULT_LIMIT : Number(query.limit));
  const listing = (summary: string, reply: object) => ({
    schema: {
      tags: ["admin"],
      summary,
      security: [{ bearer: [] }],
      querystring: LimitQuery,
      response: { 200: reply, ...errorReplies },
    },
  });

  app.get<{ Querystring: LimitQuery }>(
    "/admin/sessions",
    listing("Pairing sessions, newest first", AdminSessionsReply),
    async (request) => {
      await admin(request);
      const rows = await db
        .selectFrom("pairingSessions")
        .select([
          "sessionId",
          "userId",
          "vehicleId",
          "status",
          "channel",
          "issuedAt",
          "expiresAt",
          "attemptCount",
          "maxAttempts",
          "replaceExisting",
          "deviceInfo",
          "failureCode",
        ])
        .orderBy("issuedAt", "desc")
        .orderBy("sessionId")
        .limit(limitOf(request.query))
        .execute();
      return {
        items: rows.map((row) => ({
          ...row,
          issuedAt: row.issuedAt.toISOString(),
          expiresAt: row.expiresAt.toISOString(),
        })),
      };
    },
  );

  app.get<{ Querystring: LimitQuery }>(
    "/admin/transactions",
    listing("Pairing transactions (SPAKE2+ attempts), newest first", AdminTransactionsReply),
    async (request) => {
      await admin(request);
      const rows = await db
        .selectFrom("pairingTransactions as t")
        .innerJoin("pairingSessions as s", "s.sessionId", "t.sessionId")
        .select([
          "t.transactionId",
          "t.sessionId",
          "s.userId",
          "s.vehicleId",
          "t.status",
          "t.policyFlags",
          "t.vehiclePublicKeyHash",
          "t.deviceNonce",
          "t.serverNonce",
          "t.configDigest",
          "t.endpointHash",
          "t.createdAt",
        ])
        .orderBy("t.createdAt", "desc")
        .orderBy("t.transactionId")
        .limit(limitOf(request.query))
        .execute();
      return {
        items: rows.map(({ deviceNonce, serverNonce, endpointHash, createdAt, ...row }) => ({
          ...row,
          deviceNonce: base64(deviceNonce),
          vehicleNonce: base64(serverNonce),
          endpointIdHash: endpointHash,
          createdAt: createdAt.toISOString(),
        })),
      };
    },
  );

  app.get<{ Querystring: LimitQuery }>(
    "/admin/keys",
    listing("Digital keys of all users, newest first", AdminKeysReply),
    async (request) => {
      await admin(request);
      const rows = await db
        .selectFrom("digitalKeys")
        .select([
          "keyId",
          "vehicleId",
          "ownerUserId",
          "role",
          "state",
          "attested",
          "keyMaterialHash",
          "endpointPublicKey",
          "transactionId",
          "createdAt",
          "revokedAt",
        ])
        .orderBy("createdAt", "desc")
        .orderBy("keyId")
        .limit(limitOf(request.query))
        .execute();
      return {
        items: rows.map(({ keyMaterialHash, endpointPublicKey, createdAt, revokedAt, ...row }) => ({
          ...row,
          endpointIdHash: keyMaterialHash,
          endpointPublicKey: endpointPublicKey ? base64(endpointPublicKey) : null,
          createdAt: createdAt.toISOString(),
          revokedAt: revokedAt?.toISOString() ?? null,
        })),
      };
    },
  );

  app.get<{ Querystring: LimitQuery }>(
    "/admin/attestations",
    listing("KTS key attestations, newest first", AdminAttestationsReply),
    async (request) => {
      await admin(request);
      const rows = await db
        .selectFrom("keyAttestations as a")
        .innerJoin("digitalKeys as k", "k.keyId", "a.keyId")
        .select(["a.keyId", "a.transactionId", "k.vehicleId", "a.issuedAt", "a.signature", "a.verified"])
        .orderBy("a.issuedAt", "desc")
        .orderBy("a.keyId")
        .limit(limitOf(request.query))
        .execute();
      return {
        items: rows.map(({ issuedAt, signature, ...row }) => ({
          ...row,
          issuedAt: issuedAt.toISOString(),
          signature: base64(signature),
        })),
      };
    },
  );

  app.get<{ Querystring: LimitQuery }>(
    "/admin/audit",
    listing("The newest audit entries and the verification of the whole chain", AdminAuditReply),
    async (request) => {
      await admin(request);
      const rows = await db
        .selectFrom("auditLog")
        .select(["seq", "at", "actor", "event", "detail", "hash"])
        .orderBy("seq", "desc")
        .limit(limitOf(request.query))
        .execute();
      // The same walk as `pairkit audit verify`: from the genesis hash over every entry.
      const verification = await verifyAuditChain(db, crypto);
      return {
        entries: rows.map((row) => ({
          id: row.seq,
          at: row.at.toISOString(),
          actor: row.actor,
          action: row.event,
          detail: row.detail,
          hash: row.hash,
        })),
        chain: {
          intact: verification.ok,
          checked: verification.entries,
          firstBrokenId: verification.ok ? null : verification.brokenAt,
        },
      };
    },
  );

  app.post<{ Params: KeyIdParams }>(
    "/admin/keys/:keyId/revoke",
    {
      schema: {
        tags: ["admin"],
        summary: "Revoke any user's key; it is revoked once the vehicle confirms",
        security: [{ bearer: [] }],
        params: KeyIdParams,
        response: { 202: RevokeReply, ...errorReplies },
      },
    },
    async (request, reply) => {
      const principal = await admin(request);
      const { keyId } = request.params;
      await requestKeyRevocation(services, {
        keyId,
        ownerUserId: undefined,
        actor: `admin:${principal.userId}`,
      });
      return reply.status(202).send({ keyId, state: "revoking" });
    },
  );
}
