// Calls to corral's HTTP API from the page: the token goes in X-Consul-Token,
// errors become HttpError with the server's message, and `watch` runs a
// blocking query loop (Consul's ?index=&wait=) until its signal aborts.

const TOKEN_KEY = "corral.token";

/** The token the user signed in with, for this tab only (sessionStorage: gone when the tab closes). */
export function getToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

export function setToken(token: string): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage refused (privacy mode): the token lives until the page reloads
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = "",
  ) {
    super(message);
  }
  get denied(): boolean {
    return this.status === 403 || this.status === 401;
  }
}

export interface Answer<T> {
  status: number;
  data: T;
  /** The blocking index of the answer: X-Consul-Index, else X-Corral-Index. */
  index: number;
  headers: Headers;
}

export interface CallOptions {
  method?: string;
  body?: string | object;
  signal?: AbortSignal;
  /** Answer 404 with data null instead of throwing (KV: "no such key"). */
  allow404?: boolean;
  headers?: Record<string, string>;
}

export async function api<T = unknown>(path: string, o: CallOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...o.headers };
  const token = getToken();
  if (token) headers["X-Consul-Token"] = token;
  let body: string | undefined;
  if (typeof o.body === "string") body = o.body;
  else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers["content-type"] = "application/json";
  }
  const res = await fetch(path, { method: o.method ?? "GET", headers, body, signal: o.signal, cache: "no-store" });
  const index = Number(res.headers.get("X-Consul-Index") ?? res.headers.get("X-Corral-Index") ?? 0) || 0;
  const type = res.headers.get("content-type") ?? "";
  const text = await res.text();
  let data: unknown = text;
  if (type.includes("json") && text) {
    try {
      data = JSON.parse(text);
    } catch {
      // keep the text
    }
  }
  if (res.status === 404 && o.allow404) return { status: 404, data: null as T, index, headers: res.headers };
  if (!res.ok) {
    const obj = data as { error?: string; code?: string } | string;
    const message = typeof obj === "object" && obj?.error ? obj.error : String(text || res.statusText).trim().slice(0, 500);
    throw new HttpError(res.status, message || `HTTP ${res.status}`, typeof obj === "object" ? (obj?.code ?? "") : "");
  }
  return { status: res.status, data: data as T, index, headers: res.headers };
}

export const enc = encodeURIComponent;

/** Encodes a KV key or a path with slashes, keeping the slashes. */
export function encPath(p: string): string {
  return p.split("/").map(enc).join("/");
}

function withQuery(path: string, params: Record<string, string | number>): string {
  const q = Object.entries(params).map(([k, v]) => `${enc(k)}=${enc(String(v))}`).join("&");
  return path + (path.includes("?") ? "&" : "?") + q;
}

export interface WatchOptions {
  signal: AbortSignal;
  /** How long the server may hold each request. */
  wait?: string;
  allow404?: boolean;
  onError?: (err: unknown) => void;
}

/**
 * Blocking query loop: the first request answers at once, each next one
 * carries the last index and returns when the result changed (or after
 * `wait`). Calls onData on the first answer and whenever the index moves.
 * Errors back off (1 s doubling to 30 s) and are reported, then retried.
 */
export function watch<T>(path: string, onData: (data: T, index: number, headers: Headers) => void, o: WatchOptions): void {
  let index = 0;
  let backoff = 1000;
  void (async () => {
    while (!o.signal.aborted) {
      await whenVisible(o.signal);
      if (o.signal.aborted) return;
      try {
        const url = index > 0 ? withQuery(path, { index, wait: o.wait ?? "60s" }) : path;
        const a = await api<T>(url, { signal: o.signal, allow404: o.allow404 });
        backoff = 1000;
        // Consul's rule: an index that went backwards (a restore, a new leader) starts over.
        const changed = index === 0 || a.index !== index;
        index = a.index < index ? 0 : a.index;
        if (changed) onData(a.data, a.index, a.headers);
        // An answer without an index cannot block: poll it slowly rather than spin.
        if (a.index === 0) await sleep(10_000, o.signal);
      } catch (err) {
        if (o.signal.aborted) return;
        o.onError?.(err);
        await sleep(backoff, o.signal);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  })();
}

/**
 * Resolves once the tab is visible. A hidden tab stops starting requests:
 * browsers allow ~6 connections per host across all tabs, and each open
 * dashboard holds up to four long-lived ones.
 */
export function whenVisible(signal?: AbortSignal): Promise<void> {
  if (document.visibilityState !== "hidden" || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (document.visibilityState === "hidden" && !signal?.aborted) return;
      document.removeEventListener("visibilitychange", done);
      resolve();
    };
    document.addEventListener("visibilitychange", done);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
