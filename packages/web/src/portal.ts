import { call } from "./api.ts";
import { h, replaceChildren, statusLine } from "./dom.ts";
import { explainError } from "./explain.ts";
import { readMessage } from "./mail.ts";

interface SinkMessage {
  readonly receivedAt: string;
  readonly envelopeTo: readonly string[];
  readonly raw: string;
}

/**
 * The customer portal (VIN, e-mail, owner PIN → an e-mailed one-time link) and the development
 * mailbox that shows what the SMTP sink received, with the link clickable.
 */
export function portalView(): HTMLElement {
  const field = (name: string, label: string, attributes: Record<string, string> = {}) => {
    const input = h("input", {
      id: `portal-${name}`,
      name,
      required: true,
      autocomplete: "off",
      ...attributes,
    });
    return { input, row: h("div", { class: "field" }, h("label", { for: `portal-${name}` }, label), input) };
  };
  const vin = field("vin", "VIN", { minlength: "11", maxlength: "17", placeholder: "WPKDEMO0000000001" });
  const email = field("email", "E-mail address on file", { type: "email", placeholder: "alice@example.com" });
  const pin = field("pin", "Owner PIN", {
    type: "password",
    inputmode: "numeric",
    placeholder: "from your purchase papers",
  });
  const replace = h("input", { id: "portal-replace", type: "checkbox", name: "replaceExisting" });
  const status = statusLine("portal-status");
  const mailbox = h("div", { id: "mailbox", class: "stack" });

  const loadMailbox = async () => {
    try {
      const { messages } = await call<{ messages: SinkMessage[] }>("GET", "/dev/mailbox");
      replaceChildren(
        mailbox,
        messages.length === 0 ? h("p", { class: "muted" }, "No e-mail yet.") : null,
        ...[...messages].reverse().map(renderMessage),
      );
    } catch (error) {
      replaceChildren(mailbox, h("p", { class: "status", "data-tone": "error" }, explainError(error)));
    }
  };

  const form = h(
    "form",
    {
      id: "portal-form",
      class: "stack",
      onsubmit: (event) => {
        event.preventDefault();
        status.set("info", "Checking your details…");
        call("POST", "/portal/password-link", {
          body: {
            vin: vin.input.value.trim(),
            email: email.input.value.trim(),
            pin: pin.input.value,
            ...(replace.checked && { replaceExisting: true }),
          },
        })
          .then(() => {
            pin.input.value = "";
            status.set(
              "ok",
              "Done: we e-mailed a one-time pairing link to the owner's address. It works once.",
            );
            return loadMailbox();
          })
          .catch((error: unknown) => status.set("error", explainError(error)));
      },
    },
    vin.row,
    email.row,
    pin.row,
    h("label", {}, replace, " replace the existing owner key"),
    h("button", { id: "portal-submit", type: "submit" }, "E-mail me a pairing link"),
    status.element,
  );
  void loadMailbox();
  return h(
    "section",
    { id: "portal", "aria-label": "Customer portal" },
    h("div", { class: "card" }, h("h2", {}, "Customer portal"), form),
    h(
      "div",
      { class: "card" },
      h(
        "h2",
        {},
        "Development mailbox ",
        h("button", { id: "mailbox-refresh", type: "button", onclick: () => void loadMailbox() }, "Refresh"),
      ),
      mailbox,
    ),
  );
}

function renderMessage(message: SinkMessage): HTMLElement {
  const { subject, body } = readMessage(message.raw);
  // Only a link back to this console becomes clickable; anything else stays text.
  const parts = body.split(/(https?:\/\/\S+)/);
  return h(
    "article",
    { class: "mail" },
    h(
      "p",
      { class: "muted" },
      `To ${message.envelopeTo.join(", ")} · ${new Date(message.receivedAt).toLocaleString()}`,
    ),
    h("h3", {}, subject),
    h(
      "pre",
      {},
      ...parts.map((part) =>
        /^https?:\/\//.test(part) && new URL(part).origin === location.origin
          ? h("a", { href: part, class: "mail-link" }, part)
          : part,
      ),
    ),
  );
}
