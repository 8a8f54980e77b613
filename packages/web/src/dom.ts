type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | boolean | number | undefined | ((event: Event) => void)>;

/**
 * Creates an element: string attributes become attributes, `on…` functions become listeners,
 * `true` sets a boolean attribute. Text children are text nodes, never parsed as HTML, so
 * server data can be shown without escaping.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

export type Tone = "info" | "ok" | "error";

/** A status line whose text and tone change as an operation runs; screen readers hear each change. */
export function statusLine(id: string): { element: HTMLElement; set(tone: Tone, text: string): void } {
  const element = h("p", { id, class: "status", role: "status", "aria-live": "polite" });
  return {
    element,
    set(tone, text) {
      element.dataset.tone = tone;
      element.textContent = text;
    },
  };
}
