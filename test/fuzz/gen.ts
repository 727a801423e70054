// Malformed requests for every route, from a seed: hostile path parameters
// (traversal, NUL, invalid UTF-8, huge), absurd query values, broken bodies
// (random, truncated and deeply nested JSON, wrong types, invalid UTF-8,
// oversized) and odd headers. Request i comes from its own RNG stream, so a
// failure replays from (seed, i) whatever the concurrency.
import { mulberry32, type Rng } from "../sim/prng.ts";
import type { RawRequest } from "./raw-http.ts";

export interface FuzzRoute {
  method: string;
  /** As declared: "/v1/kv/{key{.*}}". */
  path: string;
  query: string[];
  /** Top-level JSON body properties the route documents (wrong types are tried on them). */
  bodyKeys: string[];
}

export interface Generated {
  req: RawRequest;
  route: FuzzRoute;
  /** What it is, for failure messages. */
  label: string;
  /** A well-formed write the model tracks (the fuzz also sends valid requests). */
  valid?: "kv-put" | "kv-delete" | "service-register" | "service-deregister";
}

export const MAX_BODY_BYTES = 64 * 1024;

const enc = new TextEncoder();

/** Parameter values: traversal, NUL, invalid UTF-8 (escaped and raw), huge, odd characters. */
function paramValue(rng: Rng, wildcard: boolean): string {
  const values = [
    "x", "", "0", "-1", "1e309", "99999999999999999999", "a".repeat(rng.int(300, 6000)), "é✓💥", "%", "%zz", "%ff%fe%fd", "%00", "a%00b",
    "..", "../..", "%2e%2e", "%2e%2e%2f%2e%2e", "..%2f..%2fetc%2fpasswd", "....//", "a%0d%0aX-Injected:%201", "%c0%ae%c0%ae", "\u0000".repeat(3),
    "null", "undefined", "[]", "{}", "__proto__", "constructor", "a;b", "a'b\"c", "%25", "%u0041", ".", "a\\..\\b",
  ];
  if (wildcard) values.push("a/b/c", "a//b", "/", "a/%2e%2e/b", "../../../../etc/passwd", "a%2Fb");
  return rng.pick(values);
}

function absurdQuery(rng: Rng): string {
  return rng.pick(["-1", "1e309", "99999999999999999999", "NaN", "", "true", "null", "[]", "%ff", "a".repeat(3000), "0x10", "1.5", "-0", "Infinity", "%00", "1;2", "%2e%2e", "10s", "-10s", "9999999h"]);
}

function randomJson(rng: Rng, depth = 0): unknown {
  const kind = rng.int(0, depth > 4 ? 4 : 7);
  switch (kind) {
    case 0: return rng.pick([0, -1, 1.5, 2 ** 53 + 1, -(2 ** 63), 1e308]);
    case 1: return rng.pick(["", "x", "\u0000", "💥".repeat(10), "a".repeat(rng.int(0, 2000)), "../../x", "true", "{"]);
    case 2: return rng.chance(0.5);
    case 3: return null;
    case 4: return rng.pick([[], {}, [[]], { "": "" }]);
    case 5: return Array.from({ length: rng.int(0, 5) }, () => randomJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(0, 6); i > 0; i--) o[rng.pick(["ID", "Name", "id", "name", "Port", "Key", "Action", "Rules", "__proto__", "constructor", "Checks", "Service", "job", "enabled", "address", rng.pick(["a", "é", "\u0000"])])] = randomJson(rng, depth + 1);
      return o;
    }
  }
}

function wrongTypes(rng: Rng, keys: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of keys) if (rng.chance(0.7)) o[k] = rng.pick<unknown>([123, "not-a-bool", true, null, [], {}, -1, 1e300, "x".repeat(5000), [1, "a"], { nested: { deep: [] } }]);
  return o;
}

function body(rng: Rng, route: FuzzRoute): { bytes: Uint8Array; type?: string; label: string } {
  const json = (v: unknown) => enc.encode(JSON.stringify(v));
  switch (rng.int(0, 9)) {
    case 0: return { bytes: json(randomJson(rng)), type: "application/json", label: "random JSON" };
    case 1: {
      const full = JSON.stringify(wrongTypes(rng, route.bodyKeys.length ? route.bodyKeys : ["Name", "ID"]));
      return { bytes: enc.encode(full.slice(0, rng.int(0, full.length))), type: "application/json", label: "truncated JSON" };
    }
    case 2: return { bytes: json(wrongTypes(rng, route.bodyKeys.length ? route.bodyKeys : ["Name", "Port", "enabled"])), type: "application/json", label: "wrong types" };
    case 3: {
      const n = rng.pick([100, 5_000, 20_000]);
      return { bytes: enc.encode("[".repeat(n) + "]".repeat(rng.chance(0.5) ? n : 0)), type: "application/json", label: `nested ${n}` };
    }
    case 4: return { bytes: new Uint8Array(MAX_BODY_BYTES + rng.int(1, 50_000)).fill(0x41), type: "application/json", label: "oversized" };
    case 5: return { bytes: Uint8Array.from([0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28, 0x00, 0x22, 0x7d, 0xed, 0xa0, 0x80]), type: "application/json", label: "invalid UTF-8" };
    case 6: return { bytes: enc.encode(`{"Name":"a\u0000b","ID":"\u0000","Key":"k\u0000"}`), type: "application/json", label: "NUL in names" };
    case 7: return { bytes: enc.encode(rng.pick(["[job\nid = ", "id = 1\n[[[", "= = =", "name = \"\u0000\""])), type: "application/toml", label: "broken TOML" };
    case 8: return { bytes: new Uint8Array(0), type: rng.pick([undefined, "application/json", "text/plain"]), label: "empty" };
    default: return { bytes: enc.encode("not json at all \u0000 \ud800"), type: rng.pick(["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "garbage/∞"]), label: "garbage" };
  }
}

function headers(rng: Rng, type?: string): [string, string | Uint8Array][] {
  const h: [string, string | Uint8Array][] = [];
  if (type) h.push(["Content-Type", type]);
  const r = rng.next();
  if (r < 0.08) h.push(["X-Consul-Token", rng.pick(["garbage", crypto.randomUUID(), "", "a".repeat(300), "anonymous", "\u00ff\u00fe"])]);
  else if (r < 0.12) h.push(["Authorization", rng.pick(["Bearer", "Bearer  ", "Basic Zm9vOmJhcg==", "bearer x y z", "Bearer " + "t".repeat(5000)])]);
  else if (r < 0.14) h.push(["X-Fuzz-Huge", "h".repeat(rng.pick([9_000, 40_000]))]);
  if (rng.chance(0.04)) h.push(["X-Corral-Signature", rng.pick(["t=1,sig=00", "t=99999999999999999,sig=" + "a".repeat(64), "garbage"])]);
  if (rng.chance(0.04)) h.push(["X-Corral-Forwarded", "1"]);
  if (rng.chance(0.03)) h.push(["Last-Event-ID", rng.pick(["-1", "1e309", "abc", "99999999999999999999"])]);
  return h;
}

function fillPath(rng: Rng, route: FuzzRoute, n: number): string {
  return route.path.replace(/\{(\w+)(\{([^}]*)\})?\}/g, (_m, name: string, _r, re: string | undefined) => {
    const wildcard = re !== undefined && (re.includes("*") || re.includes("+"));
    const v = paramValue(rng, wildcard);
    // KV keys stay in this request's own namespace, three levels deep so that
    // "../.." still lands inside it: the model then knows who wrote what.
    if (route.path.startsWith("/v1/kv/") && name === "key") {
      const escaped = v.replace(/^\/+/, "").replace(/[\x00-\x1f\x7f]/g, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"));
      return `fz${n}/k/l/${escaped}`;
    }
    return v;
  });
}

function query(rng: Rng, route: FuzzRoute): string {
  if (rng.chance(0.3)) return "";
  const names = [...route.query, ...(rng.chance(0.3) ? [rng.pick(["index", "wait", "stale", "recurse", "cas", "dc", "x[]", "passing", "limit", "since"])] : [])];
  const parts: string[] = [];
  for (const name of names) {
    if (!rng.chance(0.6)) continue;
    const copies = rng.chance(0.1) ? 2 : 1; // arrays: ?index=1&index=2
    for (let i = 0; i < copies; i++) parts.push(`${name}=${absurdQuery(rng)}`);
  }
  return parts.length ? "?" + parts.join("&") : "";
}

/** Well-formed writes the model can follow exactly. */
function validRequest(rng: Rng, n: number, routes: FuzzRoute[]): Generated | undefined {
  const kvPut = routes.find((r) => r.method === "PUT" && r.path.startsWith("/v1/kv/"));
  const reg = routes.find((r) => r.method === "PUT" && r.path === "/v1/agent/service/register");
  const dereg = routes.find((r) => r.method === "PUT" && r.path.startsWith("/v1/agent/service/deregister/"));
  const kvDel = routes.find((r) => r.method === "DELETE" && r.path.startsWith("/v1/kv/"));
  const k = rng.int(0, 3);
  if (k === 0 && kvPut) return { route: kvPut, label: "valid KV put", valid: "kv-put", req: { method: "PUT", target: `/v1/kv/valid/${n}`, headers: [], body: enc.encode(`value-${n}-${rng.int(0, 1e6)}`) } };
  if (k === 1 && kvDel) return { route: kvDel, label: "valid KV delete", valid: "kv-delete", req: { method: "DELETE", target: `/v1/kv/valid/${n - rng.int(1, 50)}`, headers: [] } };
  if (k === 2 && reg) {
    const svc = { ID: `fzs-${n}`, Name: rng.pick(["fz-web", "fz-db"]), Port: rng.int(1, 65535), Tags: ["fuzz"] };
    return { route: reg, label: "valid service register", valid: "service-register", req: { method: "PUT", target: reg.path, headers: [["Content-Type", "application/json"]], body: enc.encode(JSON.stringify(svc)) } };
  }
  if (k === 3 && dereg) return { route: dereg, label: "valid service deregister", valid: "service-deregister", req: { method: "PUT", target: `/v1/agent/service/deregister/fzs-${n - rng.int(1, 50)}`, headers: [] } };
  return undefined;
}

export function generate(seed: number, n: number, routes: FuzzRoute[]): Generated {
  const rng = mulberry32((seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0);
  if (rng.chance(0.08)) {
    const v = validRequest(rng, n, routes);
    if (v) return v;
  }
  const route = rng.pick(routes);
  const b = route.method !== "GET" || rng.chance(0.05) ? body(rng, route) : undefined;
  const target = fillPath(rng, route, n) + query(rng, route);
  // Raw bytes (not %-escaped) in the target now and then: invalid UTF-8, a NUL.
  const kv = route.path.startsWith("/v1/kv/");
  const rawTarget = !kv && rng.chance(0.03) ? Buffer.concat([Buffer.from(target, "utf8"), Buffer.from(rng.pick([[0xff, 0xfe], [0x00], [0xc3]]))]) : target;
  return {
    route,
    label: `${route.method} ${route.path}: ${b?.label ?? "no body"}`,
    req: { method: route.method, target: rawTarget, headers: headers(rng, b?.type), body: b?.bytes },
  };
}

/** Read flags with values an attacker would try: plausible ones (the walk's) and absurd ones. */
function readQuery(rng: Rng, route: FuzzRoute): string {
  if (rng.chance(0.2)) return "";
  const flags = ["raw", "recurse", "keys", "separator=/", "stale", "consistent", "cached", `index=${rng.int(0, 40)}&wait=1s`,
    `filter=${encodeURIComponent(rng.pick(['Service == "web"', 'ServiceName matches "d.*"', 'Node != ""', 'Key contains "secret"', 'Tags contains "secret-tag-7"', "not ("]))}`];
  const parts: string[] = [];
  for (let i = rng.int(1, 3); i > 0; i--) parts.push(rng.pick(flags));
  for (const name of route.query) if (rng.chance(0.3)) parts.push(`${name}=${rng.chance(0.5) ? absurdQuery(rng) : rng.pick(["1", "true", "web", "secret/", "passing"])}`);
  return "?" + parts.join("&");
}

/**
 * An anonymous read (GET or HEAD, no token or a bogus one) for the
 * differential oracle: path parameters are, more often than not, the names of
 * things that exist on the populated twin (`names(param)`), else hostile
 * values; read flags are mixed in. The same request goes to both twins.
 */
export function generateRead(seed: number, n: number, routes: FuzzRoute[], names: (param: string) => string[]): Generated {
  const rng = mulberry32((seed ^ Math.imul(n + 1, 0x85ebca6b)) >>> 0);
  const reads = routes.filter((r) => r.method === "GET");
  // Half the time a route that names something (KV keys, services, nodes, jobs): where hidden names matter most.
  const naming = reads.filter((r) => r.path.includes("{"));
  const route = rng.pick(naming.length && rng.chance(0.5) ? naming : reads);
  const path = route.path.replace(/\{(\w+)(\{([^}]*)\})?\}/g, (_m, name: string, _r, re: string | undefined) => {
    const wildcard = re !== undefined && (re.includes("*") || re.includes("+"));
    const known = names(name);
    if (known.length && rng.chance(0.7)) return rng.pick(known).split("/").map(encodeURIComponent).join("/") + (wildcard && rng.chance(0.2) ? "/" : "");
    return paramValue(rng, wildcard).replace(/[\x00-\x20\x7f]/g, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"));
  });
  const h = headers(rng).filter(([k]) => k !== "X-Fuzz-Huge"); // anonymous: no token, or one that resolves to nothing
  const method = rng.chance(0.2) ? "HEAD" : "GET";
  return { route, label: `${method} ${route.path}: anonymous read`, req: { method, target: path + readQuery(rng, route), headers: h } };
}
