import { ApiError } from "@pairkit/core";
import { call } from "./api.ts";
import { h, replaceChildren, statusLine } from "./dom.ts";
import { readEventStream } from "./event-stream.ts";
import { explainError } from "./explain.ts";
import { signInForm } from "./sign-in.ts";

type Row = Record<string, unknown>;

interface AuditReply {
  readonly entries: Row[];
  readonly chain: {
    readonly intact: boolean;
    readonly checked: number;
    readonly firstBrokenId: number | null;
  };
}

/** The tables, the admin route each reads, and the change kind (GET /admin/events) that refreshes it. */
const TABLES = [
  { kind: "session", title: "Pairing sessions", path: "/admin/sessions" },
  { kind: "transaction", title: "Transactions", path: "/admin/transactions" },
  { kind: "key", title: "Keys", path: "/admin/keys" },
  { kind: "attestation", title: "Attestations", path: "/admin/attestations" },
] as const;

type Kind = (typeof TABLES)[number]["kind"] | "audit";

const LIMIT = 50;
/** Changes arrive in bursts (one pairing touches several rows): one reload per burst. */
const REFRESH_DEBOUNCE_MS = 150;
const RECONNECT_DELAY_MS = 2_000;

/**
 * The administrator's view: sessions, transactions, keys, attestations and the audit log with
 * its hash chain's state, refreshed live from the server's change events; keys can be revoked.
 */
export class AdminView {
  readonly element: HTMLElement;
  readonly #live = statusLine("admin-live");
  readonly #status = statusLine("admin-status");
  readonly #tables = new Map<Kind, HTMLElement>();
  readonly #timers = new Map<Kind, ReturnType<typeof setTimeout>>();
  /** Keys revoked from here whose vehicle has not confirmed yet. */
  readonly #revoking = new Set<string>();
  #token: string | undefined;
  #stream: AbortController | undefined;

  constructor() {
    const sections = [...TABLES, { kind: "audit" as const, title: "Audit log" }].map(({ kind, title }) => {
      const body = h("div", { class: "table-wrap", id: `admin-${kind}` });
      this.#tables.set(kind, body);
      return h("section", { class: "card" }, h("h3", {}, title), body);
    });
    this.element = h(
      "section",
      { id: "admin", "aria-label": "Administration" },
      h(
        "div",
        { class: "card" },
        h("h2", {}, "Administration"),
        signInForm({
          id: "admin",
          defaultUser: "erin",
          onSignedIn: async (token) => {
            this.#token = token;
            await Promise.all([...this.#tables.keys()].map((kind) => this.#load(kind)));
            this.#follow(token);
          },
        }),
        this.#live.element,
        this.#status.element,
      ),
      ...sections,
    );
  }

  /** Follows GET /admin/events until the next sign-in; reconnects after the stream drops. */
  #follow(token: string): void {
    this.#stream?.abort();
    const controller = new AbortController();
    this.#stream = controller;
    const retry = () =>
      setTimeout(() => {
        if (!controller.signal.aborted) run();
      }, RECONNECT_DELAY_MS);
    const run = () => {
      readEventStream("/admin/events", {
        token,
        signal: controller.signal,
        onOpen: () => this.#live.set("ok", "Live: tables update as the server changes."),
        onEvent: ({ event, data }) => {
          if (event !== "change") return;
          const kind = parseChange(data);
          if (kind) this.#schedule(kind);
        },
      }).then(
        () => {
          if (controller.signal.aborted) return;
          this.#live.set("info", "Live updates interrupted; reconnecting…");
          retry();
        },
        (error: unknown) => {
          this.#live.set("error", `Live updates stopped: ${explainError(error)}`);
          // A refusal (signed out, not an administrator) does not change by retrying.
          if (!(error instanceof ApiError)) retry();
        },
      );
    };
    run();
  }

  #schedule(kind: Kind): void {
    clearTimeout(this.#timers.get(kind));
    this.#timers.set(
      kind,
      setTimeout(() => void this.#load(kind), REFRESH_DEBOUNCE_MS),
    );
  }

  async #load(kind: Kind): Promise<void> {
    const token = this.#token;
    const target = this.#tables.get(kind);
    if (!token || !target) return;
    try {
      if (kind === "audit") {
        const audit = await call<AuditReply>("GET", `/admin/audit?limit=${LIMIT}`, { token });
        replaceChildren(target, chainState(audit.chain), table(audit.entries));
        return;
      }
      const path = TABLES.find((t) => t.kind === kind)!.path;
      const { items } = await call<{ items: Row[] }>("GET", `${path}?limit=${LIMIT}`, { token });
      replaceChildren(target, table(items, kind === "key" ? (row) => this.#revokeButton(row) : undefined));
      if (kind === "key") this.#confirmRevocations(items);
    } catch (error) {
      replaceChildren(target, h("p", { class: "status", "data-tone": "error" }, explainError(error)));
    }
  }

  #confirmRevocations(keys: readonly Row[]): void {
    for (const key of keys) {
      const keyId = String(key.keyId);
      if (key.state !== "revoked" || !this.#revoking.delete(keyId)) continue;
      this.#status.set(
        "ok",
        `Key ${keyId.slice(0, 8)}… revoked: the vehicle confirmed it has erased the key.`,
      );
    }
  }

  #revokeButton(row: Row): HTMLElement | null {
    const keyId = row.keyId;
    if (typeof keyId !== "string" || row.state !== "active") return null;
    return h(
      "button",
      {
        class: "revoke",
        type: "button",
        onclick: (event) => {
          (event.currentTarget as HTMLButtonElement).disabled = true;
          this.#revoking.add(keyId);
          this.#status.set("info", `Revoking key ${keyId.slice(0, 8)}…; waiting for the vehicle to confirm.`);
          call("POST", `/admin/keys/${encodeURIComponent(keyId)}/revoke`, { token: this.#token })
            .then(() => this.#load("key"))
            .catch((error: unknown) => this.#status.set("error", explainError(error)));
        },
      },
      "Revoke",
    );
  }
}

function parseChange(data: string): Kind | undefined {
  try {
    const kind = (JSON.parse(data) as { kind?: unknown }).kind;
    return kind === "audit" || TABLES.some((t) => t.kind === kind) ? (kind as Kind) : undefined;
  } catch {
    return undefined;
  }
}

function chainState(chain: AuditReply["chain"]): HTMLElement {
  return h(
    "p",
    { id: "audit-chain", class: "status", "data-tone": chain.intact ? "ok" : "error" },
    chain.intact
      ? `Hash chain intact (${chain.checked} entries verified).`
      : `Hash chain BROKEN at entry ${chain.firstBrokenId ?? "?"} (${chain.checked} entries checked).`,
  );
}

/** What a reader looks for first: these columns lead, the others follow in the server's order. */
const LEADING_COLUMNS = ["state", "status", "vehicleId", "userId"];

/** Columns are the rows' fields; long values are cut, the full one is the tooltip. */
function table(rows: readonly Row[], action?: (row: Row) => HTMLElement | null): HTMLElement {
  if (rows.length === 0) return h("p", { class: "muted" }, "Nothing yet.");
  const fields = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const columns = [
    fields[0]!,
    ...LEADING_COLUMNS.filter((c) => c !== fields[0] && fields.includes(c)),
    ...fields.slice(1).filter((c) => !LEADING_COLUMNS.includes(c)),
  ];
  return h(
    "table",
    {},
    h(
      "thead",
      {},
      h("tr", {}, ...columns.map((c) => h("th", { scope: "col" }, c)), action ? h("th", {}) : null),
    ),
    h(
      "tbody",
      {},
      ...rows.map((row) =>
        h(
          "tr",
          { "data-id": String(row.keyId ?? row.id ?? row.sessionId ?? row.transactionId ?? "") },
          ...columns.map((c) => cell(c, row[c])),
          action ? h("td", {}, action(row)) : null,
        ),
      ),
    ),
  );
}

function cell(column: string, value: unknown): HTMLElement {
  const text =
    value === null || value === undefined
      ? "—"
      : typeof value === "object"
        ? JSON.stringify(value)
        : String(value);
  const short = text.length > 28 ? `${text.slice(0, 27)}…` : text;
  return h("td", { "data-column": column, ...(short !== text && { title: text }) }, short);
}
