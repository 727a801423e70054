// What a page gets while it is shown. Everything it starts through the
// context (blocking queries, event subscriptions, timers, streams) stops
// when the user leaves the page: the signal aborts, so no request or
// listener outlives its page (browsers allow only ~6 connections per host).
import { HttpError, watch, type WatchOptions } from "./api.ts";
import { h, type Child } from "./dom.ts";
import { loginDialog } from "./login.ts";
import type { ClusterEvent, Live } from "./live.ts";

export class PageCtx {
  private ctrl = new AbortController();
  readonly signal = this.ctrl.signal;

  constructor(
    readonly main: HTMLElement,
    readonly live: Live,
  ) {}

  /** Sets the page's heading (focused after navigation) and the document title. */
  title(text: string, ...extra: Child[]): HTMLElement {
    document.title = `${text} · corral`;
    const h1 = h("h1", { tabindex: "-1" }, text);
    const head = h("div", { class: "page-head" }, h1, ...extra);
    this.main.prepend(head);
    return h1;
  }

  /** "Overview › Services › web" above the heading of a page reached from the overview. */
  crumbs(...items: [label: string, href?: string][]): void {
    const last = items.length - 1;
    const list = h("ol", null, items.map(([label, href], i) => h("li", null, href ? h("a", { href }, label) : h("span", { "aria-current": i === last ? "page" : null }, label))));
    this.main.prepend(h("nav", { "aria-label": "Breadcrumb", class: "crumbs" }, list));
  }

  /** Reacts to stream events of a topic ("*": all; "reset": re-read everything). */
  on(topic: string, fn: (e: ClusterEvent) => void): void {
    const off = this.live.on(topic, fn);
    this.signal.addEventListener("abort", off, { once: true });
  }

  every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    this.signal.addEventListener("abort", () => clearInterval(t), { once: true });
  }

  /** A blocking query loop bound to this page. */
  watch<T>(path: string, onData: (data: T, index: number, headers: Headers) => void, o: Omit<WatchOptions, "signal"> = {}): void {
    watch(path, onData, { ...o, signal: this.signal });
  }

  /** Coalesces bursts (a sync that changes 20 checks) into one call after `ms`. */
  debounce(fn: () => void, ms = 250): () => void {
    let t: ReturnType<typeof setTimeout> | undefined;
    this.signal.addEventListener("abort", () => clearTimeout(t), { once: true });
    return () => {
      clearTimeout(t);
      t = setTimeout(() => !this.signal.aborted && fn(), ms);
    };
  }

  leave(): void {
    this.ctrl.abort();
  }
}

/** An error where data should be; a refusal says which permission and offers sign-in. */
export function errorView(err: unknown, what: string, needs?: string): HTMLElement {
  const e = err as Error;
  if (err instanceof HttpError && err.denied) {
    const detail = /^permission denied$/i.test(e.message) ? "" : ` (${e.message})`;
    return h(
      "div",
      { class: "alert alert-denied", role: "alert" },
      h("p", null, `Your token may not read ${what}${needs ? `: it needs ${needs}` : ""}.${detail}`),
      h("button", { type: "button", class: "btn", onClick: () => loginDialog() }, "Sign in with another token"),
    );
  }
  return h("div", { class: "alert alert-error", role: "alert" }, h("p", null, `Could not load ${what}: ${e?.message ?? String(err)}`));
}

/** A placeholder while the first answer is on its way. */
export function loading(what: string): HTMLElement {
  return h("p", { class: "loading", "aria-busy": "true" }, `Loading ${what}…`);
}

/** Said under a list the server shortened because the token may not read every entry. */
export function filteredNote(headers: Headers): HTMLElement | null {
  return headers.get("X-Consul-Results-Filtered-By-ACLs") === "true" ? h("p", { class: "hint" }, "Some entries may be hidden: your token may not read everything here.") : null;
}
