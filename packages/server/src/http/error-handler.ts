import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
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
 * The API error a failure leaves as. Domain errors carry their own code; Fastify's validation,
 * body-size, URL and parse errors become client errors with a fixed message (never the URL or the
 * input, which may carry secrets); anything else is INTERNAL.
 */
function toApiError(error: FastifyError): ApiError {
  if (error instanceof ApiError) return error;
  if (error.validation) return new ApiError("BAD_REQUEST", error.message);
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError("PAYLOAD_TOO_LARGE", "request body too large");
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new ApiError("URI_TOO_LONG", "a path parameter is too long");
    case "FST_ERR_BAD_URL":
      return new ApiError("BAD_REQUEST", "malformed URL");
  }
  if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
    return new ApiError("BAD_REQUEST", "malformed request");
  }
  return new ApiError("INTERNAL", "internal error");
}

/**
 * Every failure leaves as the seed's error schema with a stable code: route errors, Fastify's
 * framework errors (bad URL, over-long parameter), unknown routes, and (clientErrorHandler) what
 * Node's HTTP parser refuses before a route runs. Details of an INTERNAL error go to the log only.
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.code === "INTERNAL") request.log.error({ err: error }, "unhandled error");
    else if (apiError.status >= 500) request.log.warn({ code: apiError.code }, "request failed");
    return send(reply, apiError);
  });
  app.setNotFoundHandler((_request, reply) => send(reply, new ApiError("NOT_FOUND", "no such route")));
}

/**
 * Fastify's `frameworkErrors` option: errors raised while routing. No hook runs for them (helmet's
 * neither), so the two headers every error reply carries are set here.
 */
export function frameworkErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  reply.header("x-content-type-options", "nosniff").header("cache-control", "no-store");
  return send(reply, toApiError(error));
}

/**
 * Fastify's `clientErrorHandler` option, for what Node's HTTP parser refuses (bad Content-Length,
 * Content-Length with Transfer-Encoding, headers or URL over the size limit, a request not received
 * within REQUEST_TIMEOUT_MS): the documented body on a raw socket, then the connection closes.
 */
export function clientErrorHandler(
  this: FastifyInstance,
  error: Error & { code?: string },
  socket: Duplex & { _httpMessage?: { headersSent?: boolean } },
): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const apiError =
    error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? new ApiError("REQUEST_TIMEOUT", "request not received in time")
      : error.code === "HPE_HEADER_OVERFLOW"
        ? new ApiError("HEADERS_TOO_LARGE", "request line or headers too large")
        : new ApiError("BAD_REQUEST", "malformed HTTP request");
  this.log.debug({ code: error.code }, "client error");
  // A reply already under way cannot be followed by a second one on the same socket.
  if (socket.writable && !socket._httpMessage?.headersSent) {
    const body = JSON.stringify({ code: apiError.code, message: apiError.message } satisfies ErrorReply);
    socket.write(
      [
        `HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status]}`,
        "content-type: application/json; charset=utf-8",
        `content-length: ${Buffer.byteLength(body)}`,
        "cache-control: no-store",
        "x-content-type-options: nosniff",
        "connection: close",
        "",
        body,
      ].join("\r\n"),
    );
  }
  socket.destroy();
}
