// The h2 relay's header rules over field lists (h2/fields.ts) give the same
// answers as headers.ts over WHATWG Headers (the HTTP/1.1 and fetch paths):
// generated requests with every kind of field those rules touch — hop-by-hop,
// Connection-named, corral's controls and tokens, bearer and other
// Authorization values, X-Forwarded-*, traceparent, repeats — compared
// field by field after joining repeats as Headers does.
import { expect, test } from "bun:test";
import { downstreamFields, upstreamFields } from "../../plugins/invoke/h2/fields.ts";
import type { Field } from "../../plugins/invoke/h2/hpack.ts";
import { upstreamHeaders } from "../../plugins/invoke/headers.ts";
import { TraceIds } from "../../plugins/invoke/trace.ts";

const NAMES = [
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host",
  "x-corral-timeout", "x-corral-try-timeout", "x-corral-token", "x-consul-token", "authorization",
  "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "traceparent", "tracestate",
  "content-type", "grpc-timeout", "x-custom", "x-other", "user-agent",
];
const VALUES: Record<string, string[]> = {
  connection: ["x-custom", "x-other, keep-alive", "close"],
  te: ["trailers", "gzip"],
  authorization: ["Bearer 3f1c2a9e-1b2c-4d5e-8f90-123456789abc", "Basic dXNlcjpwYXNz", "Bearer not-a-uuid", "bearer   3F1C2A9E-1B2C-4D5E-8F90-123456789ABC extra"],
  "x-forwarded-for": ["10.0.0.1", "10.0.0.2, 10.0.0.3"],
  traceparent: ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "garbage"],
};

function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
}

const fixedTrace = () => new TraceIds((b) => void b.fill(7));

function joinedMap(fields: Iterable<[string, string]>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [n, v] of fields) m.set(n, m.has(n) ? `${m.get(n)}, ${v}` : v);
  return m;
}

test("upstreamFields agrees with headers.ts's upstreamHeaders on 2,000 generated requests", () => {
  const r = rng(21);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)]!;
  for (let i = 0; i < 2000; i++) {
    const fields: Field[] = [];
    const n = 1 + Math.floor(r() * 8);
    for (let j = 0; j < n; j++) {
      const name = pick(NAMES);
      fields.push([name, pick(VALUES[name] ?? [`v${j}`, "application/grpc", "x"])]);
    }
    // :authority, else a Host field (relay.ts and front.ts alike).
    const authority = (r() < 0.8 ? pick(["echo", "orders.service.corral", "127.0.0.1:7701"]) : null) ?? fields.find(([k]) => k === "host")?.[1] ?? null;
    const ip = r() < 0.9 ? "127.0.0.1" : "";
    // What front.ts did: a Headers of the fields, Host set to the authority, headers.ts, then gRPC's "te: trailers" kept.
    const incoming = new Headers();
    for (const [k, v] of fields) incoming.append(k, v);
    if (authority) incoming.set("host", authority);
    const old = joinedMap(upstreamHeaders(incoming, { ip, proto: "http" }, fixedTrace()));
    if (fields.some(([k, v]) => k === "te" && v === "trailers")) old.set("te", "trailers");
    const now = joinedMap(upstreamFields(fields, authority, { ip, proto: "http" }, fixedTrace()));
    expect({ fields, authority, ip, out: Object.fromEntries(now) }).toEqual({ fields, authority, ip, out: Object.fromEntries(old) });
  }
});

test("downstreamFields drops pseudo-headers and connection-specific fields, keeps the rest in order", () => {
  const f: Field[] = [[":status", "200"], ["content-type", "application/grpc"], ["connection", "close"], ["keep-alive", "5"], ["transfer-encoding", "chunked"], ["upgrade", "h2c"], ["http2-settings", "x"], ["proxy-connection", "x"], ["grpc-status", "0"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]];
  expect(downstreamFields(f)).toEqual([["content-type", "application/grpc"], ["grpc-status", "0"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
});
