import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import fastifyStatic from "@fastify/static";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { ConfigError } from "../errors.ts";

export interface ConsoleOptions {
  /** The built console (packages/web's output directory, with index.html). */
  readonly root: string;
  /** Served as GET /console/settings.json; `radioUrl` (ws: or wss:) is also allowed in connect-src. */
  readonly settings: Record<string, unknown>;
}

/**
 * The console's Content-Security-Policy: its own origin only, plus the WebSocket radio's origin,
 * images from data:/blob: URLs (QR uploads), and never inside a frame.
 */
export function consoleContentSecurityPolicy(settings: Record<string, unknown>): string {
  const connect = ["'self'"];
  const radioUrl = settings.radioUrl;
  if (radioUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = typeof radioUrl === "string" ? new URL(radioUrl) : undefined;
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== "ws:" && url.protocol !== "wss:")) {
      throw new ConfigError("console settings radioUrl", "expected a ws:// or wss:// URL");
    }
    connect.push(url.origin);
  }
  return [
    "default-src 'self'",
    `connect-src ${connect.join(" ")}`,
    "img-src 'self' data: blob:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
    "form-action 'self'",
  ].join("; ");
}

/**
 * Serves the built web console: its files, index.html at `/` and at `/portal/redeem` (the e-mailed
 * link `PUBLIC_URL/portal/redeem#token=…` opens the console; `POST /portal/redeem` stays the API),
 * and its settings. Every reply of this scope carries the console's CSP in place of the API's (the
 * other security headers come from helmet, for the whole server).
 */
export async function consoleRoutes(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const root = resolve(options.root);
  if (!existsSync(join(root, "index.html"))) {
    throw new ConfigError("console root", "has no index.html (build the web console first)");
  }
  const csp = consoleContentSecurityPolicy(options.settings);
  app.addHook("onSend", async (_request, reply, payload) => {
    reply.header("content-security-policy", csp);
    return payload;
  });

  await app.register(fastifyStatic, {
    root,
    prefix: "/",
    index: "index.html",
    // Dotfiles are not part of a build; send answers them (and any path leaving root) with 404/403.
    dotfiles: "ignore",
    // index.html names the hashed asset files: it must be revalidated, the assets need not.
    setHeaders: (reply, path) => {
      if (path.endsWith(".html")) reply.header("cache-control", "no-cache");
    },
  });

  app.get(
    "/portal/redeem",
    { schema: { tags: ["console"], summary: "The web console (the e-mailed one-time link opens it)" } },
    async (_request, reply) => reply.sendFile("index.html"),
  );

  app.get(
    "/console/settings.json",
    {
      schema: {
        tags: ["console"],
        summary: "Settings of the web console (e.g. the WebSocket radio's URL)",
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async (_request, reply) => reply.header("cache-control", "no-store").send(options.settings),
  );
}
