import { signIn } from "./api.ts";
import { h, statusLine } from "./dom.ts";
import { explainError } from "./explain.ts";

/** The development server's demo users (docs/operations.md); any other id can be typed. */
const DEMO_USERS = ["alice", "bob", "dave", "carol", "erin"];

/**
 * "Sign in as a demo user" (`POST /dev/token`). The token goes to `onSignedIn` and nowhere else:
 * each part of the console keeps its own in memory.
 */
export function signInForm(options: {
  readonly id: string;
  readonly defaultUser: string;
  readonly onSignedIn: (token: string) => void | Promise<void>;
}): HTMLElement {
  const listId = `${options.id}-users`;
  const user = h("input", {
    id: `${options.id}-user`,
    name: "user",
    list: listId,
    value: options.defaultUser,
    autocomplete: "off",
    required: true,
  });
  const status = statusLine(`${options.id}-status`);
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: (event) => {
        event.preventDefault();
        const userId = user.value.trim();
        status.set("info", `Signing in as ${userId}…`);
        signIn(userId)
          .then(async (token) => {
            await options.onSignedIn(token);
            status.set("ok", `Signed in as ${userId}`);
          })
          .catch((error: unknown) => status.set("error", explainError(error)));
      },
    },
    h("label", { for: `${options.id}-user` }, "Demo user"),
    user,
    h("datalist", { id: listId }, ...DEMO_USERS.map((u) => h("option", { value: u }))),
    h("button", { id: `${options.id}-sign-in`, type: "submit" }, "Sign in"),
  );
  return h("div", { class: "sign-in" }, form, status.element);
}
