// A list the server pages and filters: jobs, nodes and allocations at any
// size. The page holds one page of rows (at most `perPage`), never the whole
// list — at 100,000 jobs the list is ~100 MB of JSON and tens of seconds of
// layout, while a page is a few kB. The server cuts pages by key
// (?per_page&next_token, docs/api.md#lists) and does the filtering
// (?prefix of the name, or a ?filter expression), so what the box narrows is
// the whole list, not the rows the browser happens to hold.
//
// Paging keeps the tokens of the pages seen, so "Previous" goes back without
// the server keeping any state. The current page stays live: a blocking query
// on its URL (lists that have an index), or a re-read on stream events.
import { api, HttpError, watch } from "./api.ts";
import { fill, h, table, type Child } from "./dom.ts";
import { errorView, filteredNote, loading, type PageCtx } from "./page.ts";
import { filterQuery, type PlainQuery } from "./list-query.ts";

export interface PagedListOptions<T> {
  /** The list route, e.g. "/v1/jobs" (may carry a query already). */
  path: string;
  perPage: number;
  /** Plural noun for messages: "jobs". */
  noun: string;
  /** What plain text in the filter box means, for the hint: "job ID prefix". */
  plainMeans: string;
  /** How plain text narrows the list on the server (default: ?prefix=). */
  plain?: PlainQuery;
  headers: string[];
  row: (item: T) => Child[];
  /** Set as data-key on each row (pages that redraw single rows find them by it). */
  key?: (item: T) => string;
  empty: string;
  /** The ACL permission named when the token may not read the list. */
  needs: string;
  /** Blocking query on the page's URL (the list answers X-Corral-Index); else `topics` re-read it. */
  blocking?: boolean;
  topics?: string[];
  phoneHides?: number[];
  /** Called with each page shown (sparklines for the nodes on it). */
  onPage?: (items: T[]) => void;
  /** Names the widget for tests and assistive tech: "jobs-list". */
  id: string;
}

export interface PagedList {
  el: HTMLElement;
  /** Re-reads the current page. */
  reload(): void;
}

export function pagedList<T>(ctx: PageCtx, o: PagedListOptions<T>): PagedList {
  const body = h("div", { class: "paged-body" }, loading(o.noun));
  const input = h("input", {
    type: "search", class: "input input-inline", name: `${o.id}-filter`, autocomplete: "off", spellcheck: "false",
    "aria-label": `Filter ${o.noun}`, placeholder: `${o.plainMeans}, or an expression`,
  }) as HTMLInputElement;
  const hint = h("span", { class: "hint" }, `A ${o.plainMeans}, or a filter expression such as Status == "running" (the server filters).`);
  const prev = h("button", { type: "button", class: "btn btn-small", "data-page": "prev" }, "Previous") as HTMLButtonElement;
  const next = h("button", { type: "button", class: "btn btn-small", "data-page": "next" }, "Next") as HTMLButtonElement;
  const where = h("span", { class: "muted small", "aria-live": "polite" });
  const pager = h("nav", { class: "toolbar pager", "aria-label": `Pages of ${o.noun}` }, prev, where, next);
  const el = h(
    "div",
    { class: "paged-list", "data-list": o.id },
    h("form", { class: "toolbar", role: "search", onSubmit: (ev: Event) => (ev.preventDefault(), restart()) }, input, hint),
    body,
    pager,
  );

  // tokens[i]: where page i starts (undefined: the first page).
  let tokens: (string | undefined)[] = [undefined];
  let page = 0;
  let seq = 0;
  let live: AbortController | undefined;
  ctx.signal.addEventListener("abort", () => live?.abort(), { once: true });

  const url = () => {
    const q = new URLSearchParams({ per_page: String(o.perPage) });
    const t = tokens[page];
    if (t) q.set("next_token", t);
    for (const [k, v] of Object.entries(filterQuery(input.value, o.plain))) q.set(k, v);
    return o.path + (o.path.includes("?") ? "&" : "?") + q.toString();
  };

  const show = (items: T[], headers: Headers, mine: number) => {
    if (mine !== seq) return; // an answer for a page the user already left
    const nextToken = headers.get("X-Corral-NextToken") ?? undefined;
    tokens = tokens.slice(0, page + 1);
    if (nextToken) tokens[page + 1] = nextToken;
    const filtered = input.value.trim() !== "";
    const tbl = table(o.noun[0]!.toUpperCase() + o.noun.slice(1), o.headers, items.map(o.row), {
      captionHidden: true, phoneHides: o.phoneHides,
      empty: filtered ? `No ${o.noun} match "${input.value.trim()}".` : page > 0 ? `No more ${o.noun}.` : o.empty,
    });
    if (o.key) tbl.querySelectorAll("tbody tr").forEach((tr, i) => ((tr as HTMLElement).dataset.key = o.key!(items[i]!)));
    fill(body, tbl, filteredNote(headers));
    prev.disabled = page === 0;
    next.disabled = !nextToken;
    pager.hidden = page === 0 && !nextToken;
    fill(where, items.length ? `Page ${page + 1} · ${items.length} shown` : `Page ${page + 1}`);
    o.onPage?.(items);
  };

  const failed = (err: unknown, mine: number) => {
    if (ctx.signal.aborted || mine !== seq) return;
    // A malformed expression is the user's to fix: say what the server said, keep the box.
    if (err instanceof HttpError && err.status === 400) fill(body, h("p", { class: "alert alert-error", role: "alert" }, err.message));
    else fill(body, errorView(err, o.noun, o.needs));
    next.disabled = true;
  };

  const load = () => {
    const mine = ++seq;
    live?.abort();
    live = new AbortController();
    const signal = live.signal;
    body.setAttribute("aria-busy", "true");
    if (o.blocking) {
      watch<T[]>(url(), (items, _i, headers) => (body.removeAttribute("aria-busy"), show(items, headers, mine)), {
        signal, onError: (err) => failed(err, mine),
      });
      return;
    }
    api<T[]>(url(), { signal }).then(
      (a) => (body.removeAttribute("aria-busy"), show(a.data, a.headers, mine)),
      (err) => failed(err, mine),
    );
  };

  const restart = () => {
    tokens = [undefined];
    page = 0;
    load();
  };

  prev.addEventListener("click", () => {
    if (page > 0) (page--, load());
  });
  next.addEventListener("click", () => {
    if (tokens[page + 1]) (page++, load());
  });
  input.addEventListener("input", ctx.debounce(restart, 300));
  if (!o.blocking) {
    const again = ctx.debounce(load, 400);
    for (const t of [...(o.topics ?? []), "reset"]) ctx.on(t, again);
  }
  load();
  return { el, reload: load };
}
