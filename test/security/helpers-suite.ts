// Shared by the generic, route-walking part of the adversarial suite
// (routes-walk.test.ts, peer-routes.test.ts): the read-flag matrix, request
// helpers that return what an attacker sees, a bounded worker pool, and the
// hostile variants of a browser's or a rebinding page's request.
import { connect } from "node:net";
import type { Observed } from "../fuzz/differential.ts";
import { headersOf } from "../fuzz/differential.ts";

/**
 * Every read flag an attacker would add to a GET (Consul's and corral's): each
 * must be authorized like the plain read. Two ?filter= expressions that match
 * hidden things on the catalog, health and agent routes (where filtering before
 * the ACL check would show in a count or a header).
 */
export const READ_FLAGS = [
  "raw", "recurse", "keys", "separator=%2F",
  "filter=" + encodeURIComponent('Service == "web"'), "filter=" + encodeURIComponent('ServiceName == "web"'),
  "index=1&wait=1s", "stale", "consistent",
];

/** The query strings to try on a GET: none, every flag alone, every pair (not the power set: 46 strings). */
export function flagCombinations(flags = READ_FLAGS): string[] {
  const out = [""];
  for (const f of flags) out.push(f);
  for (let i = 0; i < flags.length; i++) for (let j = i + 1; j < flags.length; j++) out.push(`${flags[i]}&${flags[j]}`);
  return out;
}

/** `path` with `query` appended (the path may carry its own query already). */
export function withQuery(path: string, query: string): string {
  if (!query) return path;
  return path + (path.includes("?") ? "&" : "?") + query;
}

const STREAM_MS = 4_000;

/**
 * One request as the client sees the answer: status, headers, body (streams
 * and held queries are cut after a few seconds: what arrived by then counts).
 */
export async function observe(url: string, init: RequestInit = {}): Promise<Observed> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), STREAM_MS);
  try {
    const res = await fetch(url, { ...init, redirect: "manual", signal: ctl.signal });
    let body = "";
    try {
      const reader = res.body?.getReader();
      const dec = new TextDecoder();
      if (reader) {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          body += dec.decode(value, { stream: true });
          if (body.length > 256 * 1024) {
            await reader.cancel();
            break;
          }
        }
      }
    } catch {
      body += "<cut: still streaming>";
    }
    return { status: res.status, headers: headersOf(res.headers), body };
  } catch (err) {
    return { status: 0, headers: {}, body: `<no answer: ${(err as Error).message}>` };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs fn over items, at most `n` at a time. */
export async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Path parameter values as they go into a URL (a KV key keeps its slashes). */
export function escapeParam(value: string): string {
  return value.split("/").map(encodeURIComponent).join("/");
}

/** The product of candidate values per parameter, at most `cap` combinations. */
export function combinations(names: string[], candidates: (name: string) => string[], cap: number): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const name of names) {
    const next: Record<string, string>[] = [];
    for (const partial of out) for (const v of candidates(name)) next.push({ ...partial, [name]: escapeParam(v) });
    out = next.slice(0, cap);
  }
  return out;
}

/**
 * A JSON object's text with its first key repeated at the end: `exact` repeats
 * it as is ({"Name":1,...,"Name":1}), `case` with its case changed
 * ({"Name":1,...,"name":1}). Both must be refused (400): which copy a parser
 * keeps decides what a policy check and a handler each believe was sent.
 */
export function duplicateKeyBody(obj: Record<string, unknown>, kind: "exact" | "case"): string {
  const entries = Object.entries(obj);
  const [k, v] = entries[0] ?? ["Name", "dup"];
  const key = kind === "exact" ? k : k === k.toLowerCase() ? k.toUpperCase() : k.toLowerCase();
  const text = JSON.stringify(entries.length ? obj : { [k]: v });
  return `${text.slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(v)}}`;
}

/** Hosts a DNS-rebinding page would send (the node must refuse them, GETs included). */
export function foreignHosts(port: number): string[] {
  return [`evil.example:${port}`, "evil.example", `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`];
}

/** Hosts that are the node's own and must keep working. */
export function ownHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

/** Cross-site variants of a write, as a web page in the operator's browser can send them. */
export function crossSiteVariants(port: number): { label: string; headers: Record<string, string> }[] {
  return [
    { label: "Sec-Fetch-Site: cross-site", headers: { "Sec-Fetch-Site": "cross-site" } },
    { label: "Origin: http://evil.example", headers: { Origin: "http://evil.example" } },
    { label: "Origin: null", headers: { Origin: "null" } },
    { label: `Origin: the node's host on another port`, headers: { Origin: `http://127.0.0.1:${port + 1}` } },
    { label: "Origin: https://evil.example:<port>", headers: { Origin: `https://evil.example:${port}` } },
    { label: "Sec-Fetch-Site: same-site (another port of the same host)", headers: { "Sec-Fetch-Site": "same-site", Origin: `http://localhost:${port + 1}` } },
  ];
}

/** Content types a form or a no-preflight fetch can send: a JSON route must answer 415. */
export const SIMPLE_CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"];

/**
 * Sends only the head of a request declaring `length` body bytes (and the
 * first five of them) and waits for an answer: a node that reads a body
 * before deciding to refuse it never answers, since the rest never comes.
 */
export function headOnly(port: number, method: string, path: string, length: number, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; ms: number } | undefined> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = connect({ host: "127.0.0.1", port });
    let buf = "";
    let settled = false;
    const done = (v: { status: number; ms: number } | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    sock.on("connect", () => sock.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}Content-Length: ${length}\r\n\r\n{"a":`));
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      if (m) done({ status: Number(m[1]), ms: Date.now() - t0 });
    });
    sock.on("error", () => done(undefined));
    sock.on("close", () => done(undefined));
  });
}
