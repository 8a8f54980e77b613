import { once } from "node:events";
import type { Server } from "node:net";
import nodemailer, { type Transporter } from "nodemailer";
import { SMTPServer } from "smtp-server";
import type { MailConfig } from "../config.ts";
import type { Db } from "../db/database.ts";

export interface SinkMessage {
  readonly receivedAt: string;
  readonly envelopeTo: readonly string[];
  readonly raw: string;
}

interface Sink {
  readonly server: SMTPServer;
  readonly listener: Server;
  readonly messages: SinkMessage[];
}

/**
 * Sends e-mails from the outbox table. Outbox first, then SMTP: a message is never lost between
 * the database commit and the send; once sent, its body (which holds a one-time link) is cleared.
 * Development mode runs an in-process SMTP sink so the whole path, SMTP included, is real.
 */
export class Mailer {
  readonly #db: Db;
  readonly #transport: Transporter;
  readonly #from: string;
  readonly #sink: Sink | undefined;

  private constructor(db: Db, transport: Transporter, from: string, sink: Sink | undefined) {
    this.#db = db;
    this.#transport = transport;
    this.#from = from;
    this.#sink = sink;
  }

  /** `onError` hears the development sink's connection errors (a client reset mid-transaction…). */
  static async create(db: Db, config: MailConfig, onError: (error: Error) => void): Promise<Mailer> {
    if (config.kind === "smtp")
      return new Mailer(db, nodemailer.createTransport(config.url), config.from, undefined);
    const messages: SinkMessage[] = [];
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      size: 64 * 1024,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          messages.push({
            receivedAt: new Date().toISOString(),
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString("utf8"),
          });
          // A development inbox, not an archive.
          if (messages.length > 100) messages.shift();
          callback();
        });
      },
    });
    // smtp-server re-emits a connection's socket error on the server; unheard, it would end the process.
    server.on("error", onError);
    const listener = server.listen(config.port, config.host);
    await once(listener, "listening");
    const { port } = listener.address() as { port: number };
    const transport = nodemailer.createTransport({ host: config.host, port, secure: false, ignoreTLS: true });
    return new Mailer(db, transport, config.from, { server, listener, messages });
  }

  /** Messages the development sink received (undefined with a real SMTP server). */
  get sinkMessages(): readonly SinkMessage[] | undefined {
    return this.#sink?.messages;
  }

  /** Sends one outbox message; on failure it stays in the outbox with its attempt counted. */
  async deliver(id: string): Promise<boolean> {
    const message = await this.#db
      .selectFrom("emailOutbox")
      .select(["recipient", "subject", "body"])
      .where("id", "=", id)
      .where("sentAt", "is", null)
      .executeTakeFirst();
    if (!message) return false;
    await this.#db
      .updateTable("emailOutbox")
      .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
      .where("id", "=", id)
      .execute();
    await this.#transport.sendMail({
      from: this.#from,
      to: message.recipient,
      subject: message.subject,
      text: message.body,
    });
    await this.#db
      .updateTable("emailOutbox")
      .set({ sentAt: new Date(), body: "" })
      .where("id", "=", id)
      .execute();
    return true;
  }

  async close(): Promise<void> {
    this.#transport.close();
    if (this.#sink) await new Promise<void>((resolve) => this.#sink?.server.close(() => resolve()));
  }
}
