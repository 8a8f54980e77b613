import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import { ApiError } from "../errors.ts";
import type { ErrorReply } from "./schemas.ts";

function send(reply: FastifyReply, error: ApiError): FastifyReply {
  const body: ErrorReply = { code: error.code, message: error.message };
  if (error.remainingAttempts !== undefined) body.remainingAttempts = error.remainingAttempts;
  if (error.retryAfter !== undefined) {
    body.retryAfter = error.retryAfter;
    reply.header("retry-after", String(error.retryAfter));
  }
  return reply.status(error.status).send(body);
}

/**
 * Every failure leaves as the seed's error schema with a stable code. Domain errors carry their
 * own; Fastify's validation, body-size and parse errors become BAD_REQUEST / PAYLOAD_TOO_LARGE;
 * anything else is INTERNAL with a generic message (details go to the log, never to the client).
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) {
      if (error.status >= 500) request.log.warn({ code: error.code }, "request failed");
      return send(reply, error);
    }
    if (error.validation) {
      return send(reply, new ApiError("BAD_REQUEST", error.message));
    }
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return send(reply, new ApiError("PAYLOAD_TOO_LARGE", "request body too large"));
    }
    if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
      return send(reply, new ApiError("BAD_REQUEST", "malformed request"));
    }
    request.log.error({ err: error }, "unhandled error");
    return send(reply, new ApiError("INTERNAL", "internal error"));
  });
  app.setNotFoundHandler((_request, reply) => send(reply, new ApiError("NOT_FOUND", "no such route")));
}
