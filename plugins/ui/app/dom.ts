// Small DOM helpers instead of a framework. Text from the server only ever
// goes in as text nodes or attribute values, never through innerHTML, so
// nothing a cluster reports (a key, a check's output) can inject markup.

export type Child = Node | string | number | null | undefined | false | Child[];
type Listener = (ev: any) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Listener>;

/** Appends children (strings become text nodes; null, undefined and false are skipped). */
export function add(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) add(parent, ...c);
    else parent.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

function setAttrs(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === "value" && "value" in el) (el as HTMLInputElement).value = String(v);
    else if (k === "checked" && "checked" in el) (el as HTMLInputElement).checked = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

/** h("a", { href: "#/", class: "x", onClick: fn }, "text", child) */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  add(el, ...children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  add(el, ...children);
  return el;
}

/**
 * Replaces an element's content. Live data redraws parts of a page while
 * someone may be tabbing through them: if focus was inside, it is put back
 * on the matching control (same tag, and same label, link or text).
 */
export function fill(el: Element, ...children: Child[]): void {
  const active = document.activeElement as HTMLElement | null;
  const inside = active && active !== el && el.contains(active) ? focusKey(active) : null;
  el.replaceChildren();
  add(el, ...children);
  if (inside) [...el.querySelectorAll<HTMLElement>(active!.tagName)].find((e) => focusKey(e) === inside)?.focus();
}

/** What identifies a control across a redraw: its label, else its link, else its text. */
function focusKey(e: HTMLElement): string {
  const label = e.getAttribute("aria-label") ?? e.getAttribute("href") ?? (e.textContent ?? "").trim();
  return `${e.tagName}|${label}`;
}

let idSeq = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = "id"): string {
  return `${prefix}-${++idSeq}`;
}

/** A table with a caption and column headers; wrapped so it scrolls on a phone instead of widening the page. */
export function table(caption: string, headers: string[], rows: Child[][], opts: { empty?: string; captionHidden?: boolean; phoneHides?: number[] } = {}): HTMLElement {
  if (rows.length === 0 && opts.empty) return h("p", { class: "empty" }, opts.empty);
  // Secondary columns give way on a phone, so the ones that matter fit without scrolling.
  const cls = (i: number) => (opts.phoneHides?.includes(i) ? "phone-hide" : null);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      null,
      h("caption", { class: opts.captionHidden ? "visually-hidden" : null }, caption),
      h("thead", null, h("tr", null, headers.map((t, i) => h("th", { scope: "col", class: cls(i) }, t)))),
      h("tbody", null, rows.map((r) => h("tr", null, r.map((c, i) => (i === 0 ? h("th", { scope: "row" }, c) : h("td", { class: cls(i) }, c)))))),
    ),
  );
}

/** A status word in a coloured pill; the word itself carries the meaning (not only the colour). */
export function badge(status: string, text = status): HTMLElement {
  return h("span", { class: `badge badge-${status.replace(/[^a-z-]/gi, "").toLowerCase()}` }, text);
}

/** A definition list from [term, value] pairs. */
export function dl(pairs: [string, Child][]): HTMLElement {
  return h("dl", { class: "facts" }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

export function section(title: string, ...children: Child[]): HTMLElement {
  const id = uid("sec");
  return h("section", { "aria-labelledby": id, class: "card" }, h("h2", { id }, title), ...children);
}
