import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { sql } from "kysely";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { databaseBackends, POSTGRES_URL } from "./support/databases.ts";
import { startTestServer } from "./support/server.ts";

/**
 * What a client can do to a socket of the server short of a valid request, such as resetting it
 * in the middle of a transaction, must never end the process (an 'error' event without a
 * listener does).
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** An SMTP client on a raw socket: sends one line and waits for the reply with the given code. */
async function smtp(port: number) {
  const socket = connect(port, "127.0.0.1");
  let buffer = "";
  const waiters: (() => void)[] = [];
  socket.on("data", (d) => {
    buffer += d;
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on("error", () => {});
  const reply = async (code: string) => {
    while (!new RegExp(`^${code} `, "m").test(buffer)) await new Promise<void>((r) => waiters.push(r));
    buffer = "";
  };
  await reply("220");
  return {
    socket,
    async say(line: string, code: string) {
      socket.write(`${line}\r\n`);
      await reply(code);
    },
  };
}

describe("development SMTP sink", () => {
  it("survives a client that resets its connection inside a mail transaction", async () => {
    const port = await freePort();
    // The sink does not touch the database: the quickest back-end to start will do.
    const backends = await databaseBackends();
    const backend = backends.find((b) => b.name === "postgres" && !b.skip) ?? backends[0]!;
    cleanups.push(() => backend.cleanup());
    const app = await startTestServer(backend.fresh(), { SMTP_SINK_PORT: String(port) });
    cleanups.push(() => app.close());
    for (let i = 0; i < 2; i++) {
      const client = await smtp(port);
      await client.say("EHLO attacker.example", "250");
      await client.say("MAIL FROM:<a@attacker.example>", "250");
      // RST instead of FIN: the sink's socket sees ECONNRESET with a transaction open.
      (client.socket as Socket).resetAndDestroy();
      await once(client.socket, "close");
    }
    const honest = await smtp(port);
    await honest.say("EHLO client.example", "250");
    await honest.say("MAIL FROM:<a@client.example>", "250");
    await honest.say("RCPT TO:<owner@example.com>", "250");
    await honest.say("DATA", "354");
    await honest.say("Subject: still here\r\n\r\nhello\r\n.", "250");
    honest.socket.end();
    expect(app.services.mailer.sinkMessages?.map((m) => m.envelopeTo)).toEqual([["owner@example.com"]]);
  });
});

describe("PostgreSQL pool", async () => {
  const postgres = (await databaseBackends()).find((b) => b.name === "postgres")!;

  it.skipIf(postgres.skip)("survives the database ending an idle pooled connection", async () => {
    cleanups.push(() => postgres.cleanup());
    const app = await startTestServer(postgres.fresh());
    cleanups.push(() => app.close());
    const db = app.services.db;
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
    // As a database restart or an administrator would: the pooled connection is idle when it ends.
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      await admin.query("select pg_terminate_backend($1)", [rows[0]!.pid]);
    } finally {
      await admin.end();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
    expect(after.rows[0]!.pid).not.toBe(rows[0]!.pid);
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
  });
});
