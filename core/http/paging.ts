// Nomad-shaped list paging: ?per_page=N&next_token=T&filter=EXPR. Pure.
//
// Pages are cut by key, not by offset: a list is read in its key order
// (SQL keyset scans, core/state/domains/list-scan.ts), and the next token is
// the key of the first item of the next page (Nomad's X-Nomad-NextToken).
// Items inserted or deleted between two requests therefore never shift what
// the next page holds: every item present throughout is answered exactly once.
//
// What a token may not read and what the filter rejects are dropped *before*
// the page is cut (`keep`, `filter`), batch by batch: a narrow token's page
// is full of what it may see, and the next token is always the key of an
// item the token may read, never of a hidden one.
import { ApiError } from "./errors.ts";
import { FilterError, parseFilter, matchesFilter, type Expr } from "./bexpr.ts";

/** A list's key: the values of its ORDER BY columns, "s"tring or "n"umber each. */
export type PageKey = readonly (string | number)[];
export type KeyShape = readonly ("s" | "n")[];
/** Where a keyset scan starts: at `key` (inclusive) or just past it. Undefined: from the start. */
export type ScanFrom = { key: PageKey; inclusive: boolean } | undefined;

export interface PageParams {
  /** Absent: every item (the route's own cap aside), as before paging existed. */
  perPage?: number;
  start?: PageKey;
  filter?: Expr;
}

/** Largest ?per_page accepted. */
export const MAX_PER_PAGE = 10_000;
/** Items read from the database per scan step when a page is not asked for (or is larger). */
const SCAN_BATCH = 500;

/** Opaque to clients: base64url of the key's JSON. Stable: the same key always gives the same token. */
export function encodeToken(key: PageKey): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** The key a next_token names, or a 400. */
export function decodeToken(token: string, shape: KeyShape): PageKey {
  const bad = () => new ApiError(400, "INVALID_NEXT_TOKEN", "next_token is not one this list answered (pass X-Corral-NextToken as is)");
  if (token.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  if (!Array.isArray(key) || key.length !== shape.length) throw bad();
  key.forEach((v, i) => {
    if (shape[i] === "s" ? typeof v !== "string" : !Number.isSafeInteger(v)) throw bad();
  });
  return key as PageKey;
}

/** ?filter as a parsed expression, or a 400 naming the position of the mistake. */
export function filterParam(text: string | null): Expr | undefined {
  if (text === null || text === "") return undefined;
  try {
    return parseFilter(text);
  } catch (err) {
    if (err instanceof FilterError) throw new ApiError(400, "INVALID_FILTER", err.message);
    throw err;
  }
}

/** ?per_page, ?next_token and ?filter of a list request, validated (400 on anything malformed). */
export function pageParams(q: URLSearchParams, shape: KeyShape): PageParams {
  const out: PageParams = {};
  const per = q.get("per_page");
  if (per !== null && per !== "") {
    if (!/^\d{1,6}$/.test(per) || Number(per) < 1 || Number(per) > MAX_PER_PAGE) {
      throw new ApiError(400, "INVALID_INPUT", `per_page must be a whole number from 1 to ${MAX_PER_PAGE}, not ${JSON.stringify(per)}`);
    }
    out.perPage = Number(per);
  }
  const token = q.get("next_token");
  if (token !== null && token !== "") out.start = decodeToken(token, shape);
  const filter = filterParam(q.get("filter"));
  if (filter) out.filter = filter;
  return out;
}

export interface Page<R, V> {
  rows: R[];
  views: V[];
  /** Set when more items follow: the token of the first of them. */
  nextToken?: string;
}

/**
 * One page of a list read in key order. `scan` reads up to `limit` rows from
 * `from` on; `keep` drops what the token may not read (a whole batch at a
 * time, so an ACL scope can mark the answer partial); the filter is matched
 * against each row's view, which is what the client sees and filters by.
 * `cap`: most items answered without ?per_page (a route's old limit).
 */
export function collectPage<R, V>(opts: {
  params: PageParams;
  scan: (from: ScanFrom, limit: number) => R[];
  keyOf: (row: R) => PageKey;
  view: (row: R) => V;
  keep?: (batch: R[]) => R[];
  cap?: number;
}): Page<R, V> {
  const { params } = opts;
  const want = params.perPage ?? opts.cap ?? Infinity;
  const batch = Math.min(SCAN_BATCH, Number.isFinite(want) ? want + 1 : SCAN_BATCH);
  const out: Page<R, V> = { rows: [], views: [] };
  let from: ScanFrom = params.start ? { key: params.start, inclusive: true } : undefined;
  for (;;) {
    const rows = opts.scan(from, batch);
    const kept = opts.keep ? opts.keep(rows) : rows;
    for (const r of kept) {
      const v = opts.view(r);
      if (params.filter && !matchesFilter(params.filter, v)) continue;
      if (out.rows.length === want) {
        // One more than asked: it starts the next page (only with ?per_page: a cap just ends the list).
        if (params.perPage !== undefined) out.nextToken = encodeToken(opts.keyOf(r));
        return out;
      }
      out.rows.push(r);
      out.views.push(v);
    }
    if (rows.length < batch) return out;
    from = { key: opts.keyOf(rows[rows.length - 1]!), inclusive: false };
  }
}

/** The next token in Nomad's header and corral's own. */
export function pageHeaders(page: { nextToken?: string }): Record<string, string> {
  return page.nextToken ? { "X-Corral-NextToken": page.nextToken, "X-Nomad-NextToken": page.nextToken } : {};
}
