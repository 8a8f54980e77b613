import { AdminView } from "./admin.ts";
import { loadSettings } from "./api.ts";
import { CardView } from "./card.ts";
import { h } from "./dom.ts";
import { explainError } from "./explain.ts";
import { PhoneView } from "./phone.ts";
import { portalView } from "./portal.ts";
import { Radios } from "./radio.ts";

/**
 * The console's entry: four sections behind tabs. The e-mailed link
 * (`/portal/redeem#token=…`) opens the phone with the link redeemed once; the token is taken
 * out of the address bar first so it stays in neither the history nor a bookmark.
 */
async function start(): Promise<void> {
  const app = document.getElementById("app")!;
  const tabs = document.getElementById("tabs")!;
  let settings = {};
  try {
    settings = await loadSettings();
  } catch (error) {
    app.append(h("p", { class: "status", "data-tone": "error" }, `Console settings: ${explainError(error)}`));
  }
  const radios = new Radios(settings);
  const phone = new PhoneView(radios);
  const sections: [string, string, HTMLElement][] = [
    ["portal", "Portal", portalView()],
    ["phone", "Phone", phone.element],
    ["card", "Active Card", new CardView(radios).element],
    ["admin", "Admin", new AdminView().element],
  ];
  const buttons = sections.map(([id, label]) =>
    h("button", { type: "button", id: `tab-${id}`, role: "tab", onclick: () => show(id) }, label),
  );
  const show = (id: string) => {
    for (const [sectionId, , element] of sections) element.hidden = sectionId !== id;
    for (const button of buttons) button.setAttribute("aria-selected", String(button.id === `tab-${id}`));
  };
  tabs.append(...buttons);
  app.append(...sections.map(([, , element]) => element));

  const token =
    location.pathname === "/portal/redeem" ? new URLSearchParams(location.hash.slice(1)).get("token") : null;
  if (token !== null) {
    history.replaceState(null, "", "/");
    show("phone");
    await phone.redeem(token);
  } else show("portal");
}

void start();
