// The generic walk of the live route table (issue 13, point 17): nothing here
// names a route by hand, so a route added tomorrow is walked tomorrow.
//
// Two dev nodes of the same kind (every plugin on, ACLs on, default deny,
// same name, node id and secret, the same shared key, service and narrow
// token): one populated with secrets, one empty (test/fuzz/twins.ts).
//  1. Reads: every GET route, its path parameters filled with the names of
//     shared and hidden things (and one that exists nowhere), every read flag
//     alone and in pairs, GET and HEAD, anonymous and as the narrow token:
//     the populated node must answer exactly as the empty one
//     (test/fuzz/differential.ts: status, headers that carry data, body; an
//     index may be the log's position, never a hidden write's).
//  2. Writes from a browser: every non-GET route with a management token
//     (so nothing but the browser rules can refuse it): cross-site and
//     foreign-Origin variants → 403, a form's content types on a JSON route →
//     415, JSON bodies with a duplicate key or a key differing only in case
//     → 400. The same request without the hostile part is the control: it
//     must not be refused for browser reasons.
//  3. Host: every route, GET included, with a foreign Host (DNS rebinding)
//     → 403 or 421; the node's own names keep working.
//  4. Bounded work: ?filter= regex bombs on every GET route answered in
//     bounded time; a declared oversized body on every write route → 413
//     before it is read.
// Writes go to the EMPTY twin, after the reads walk (it does not need to stay
// empty any more); the populated one is never written by this file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { rawRequest } from "../fuzz/raw-http.ts";
import { differences, type Observed } from "../fuzz/differential.ts";
import { fillParams, listRoutes, paramNames, type LiveRoute } from "../fuzz/routes.ts";
import { as, meshCaAliases, paramCandidates, reapTwins, SHARED, startTwins, type Twin, type Twins } from "../fuzz/twins.ts";
import {
  combinations, crossSiteVariants, duplicateKeyBody, flagCombinations, foreignHosts, headOnly, observe, ownHosts, pool, READ_FLAGS, SIMPLE_CONTENT_TYPES, withQuery,
} from "./helpers-suite.ts";

const started = Date.now();
const twins: Twins = await startTwins();
const routes: LiveRoute[] = await listRoutes(twins.populated.url, twins.populated.management);
afterAll(async () => {
  reapTwins(twins);
  await killAll();
  console.log(`routes-walk: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
});

/** What each twin named differently: the narrow token's secret and accessor, its policy's ID. */
const aliases = (t: Twin) => ({ [t.narrow.secret]: "<narrow-secret>", [t.narrow.accessor]: "<narrow-accessor>", [t.narrow.policyId]: "<narrow-policy>" });


const facts = {
  populated: { port: twins.populated.port, dataDir: twins.populated.dataDir, aliases: { ...aliases(twins.populated), ...(await meshCaAliases(twins.populated)) } },
  empty: { port: twins.empty.port, dataDir: twins.empty.dataDir, aliases: { ...aliases(twins.empty), ...(await meshCaAliases(twins.empty)) } },
  window: { baseline: twins.state.baselineIndex, fence: twins.state.fenceIndex },
  secrets: twins.state.secrets,
};

/** At most this many failures are spelled out per test (the count is always given). */
const SHOW = 12;
function report(failures: string[]): string {
  return `${failures.length} failure(s):\n  ${failures.slice(0, SHOW).join("\n  ")}${failures.length > SHOW ? `\n  … and ${failures.length - SHOW} more` : ""}`;
}

/**
 * Read failures grouped by what leaked (the same header across 46 flag
 * combinations is one finding), hidden values first: "what — N request(s): a, b, …".
 */
function reportLeaks(leaks: { target: string; what: string }[]): string {
  const by = new Map<string, string[]>();
  for (const l of leaks) by.set(l.what, [...(by.get(l.what) ?? []), l.target]);
  const rank = (w: string) => (w.includes("hidden value") ? 0 : w.startsWith("status") ? 1 : w.startsWith("body") ? 2 : 3);
  const lines = [...by].sort((a, b) => rank(a[0]) - rank(b[0]) || b[1].length - a[1].length)
    .map(([what, targets]) => `${what} — ${targets.length} request(s): ${targets.slice(0, 4).join(", ")}${targets.length > 4 ? ", …" : ""}`);
  return `${leaks.length} difference(s) in ${by.size} kind(s):\n  ${lines.slice(0, SHOW).join("\n  ")}${lines.length > SHOW ? `\n  … and ${lines.length - SHOW} more kinds` : ""}`;
}

/**
 * The concrete paths to walk for a route: parameters filled with hidden
 * names; those the management token finds (the thing exists) are kept, at
 * most three, plus the first combination that exists nowhere (the control).
 */
async function pathsFor(r: LiveRoute): Promise<string[]> {
  const names = paramNames(r.path);
  if (!names.length) return [r.path];
  const combos = combinations(names, (n) => paramCandidates(twins.state, n), 24);
  const existing: string[] = [];
  for (const c of combos) {
    if (existing.length >= 3) break;
    const path = fillParams(r.path, c);
    if (path.includes("nope-does-not-exist")) continue;
    const res = await observe(twins.populated.url + path, { headers: { "X-Consul-Token": twins.populated.management } });
    if (res.status === 200) existing.push(path);
  }
  const absent = combos.map((c) => fillParams(r.path, c)).find((p) => p.includes("nope-does-not-exist"));
  const fallback = existing.length ? [] : [fillParams(r.path, combos[0]!)];
  return [...new Set([...existing, ...fallback, ...(absent ? [absent] : [])])];
}

/** Who asks: no token, or the narrow token (each twin's own secret for the same policy). */
type Caller = "anonymous" | "narrow token";
const tokenOf = (t: Twin, caller: Caller): Record<string, string> => (caller === "anonymous" ? {} : { "X-Consul-Token": t.narrow.secret });

async function compareAnonymous(method: string, target: string, caller: Caller = "anonymous"): Promise<{ target: string; what: string }[]> {
  const [p, e]: Observed[] = await Promise.all([
    observe(twins.populated.url + target, { method, headers: tokenOf(twins.populated, caller) }),
    observe(twins.empty.url + target, { method, headers: tokenOf(twins.empty, caller) }),
  ]);
  return differences(p, e, facts).map((what) => ({ target: `${method} ${target}`, what }));
}

const getRoutes = routes.filter((r) => r.method === "GET");

const queries = flagCombinations();
const headQueries = ["", ...READ_FLAGS];

describe("reads: an anonymous answer is the same from a populated node as from an empty one", () => {
  test("the walk finds the routes", () => {
    expect(routes.length).toBeGreaterThan(150);
    expect(getRoutes.filter((r) => !r.hidden).length).toBeGreaterThan(50);
  });

  for (const r of getRoutes.filter((x) => !x.hidden)) {
    test(`GET ${r.path}: ${queries.length} flag combinations + ${headQueries.length} HEAD`, async () => {
      await walkReads(r, "anonymous");
    }, 120_000);
  }

  test("GET on the hidden 405 routes (and HEAD) tells nothing either", async () => {
    const leaks: { target: string; what: string }[] = [];
    const jobs: [string, string][] = [];
    for (const r of getRoutes.filter((x) => x.hidden)) {
      const combos = combinations(paramNames(r.path), (n) => paramCandidates(twins.state, n).slice(0, 2), 2);
      for (const c of combos) for (const m of ["GET", "HEAD"]) jobs.push([m, fillParams(r.path, c)]);
    }
    await pool(jobs, 6, async ([m, t]) => {
      leaks.push(...(await compareAnonymous(m, t)));
    });
    if (leaks.length) throw new Error(reportLeaks(leaks));
  }, 120_000);
});

// The narrow token may read the shared key, service and node (the same on
// both twins), nothing the populated twin holds beyond them: the same walk,
// with that token. Lists now hold something, and must hold the same things.
describe("reads: a narrow token's answer is the same from a populated node as from an empty one", () => {
  for (const r of getRoutes.filter((x) => !x.hidden)) {
    test(`GET ${r.path}: ${queries.length} flag combinations + ${headQueries.length} HEAD, narrow token`, async () => {
      await walkReads(r, "narrow token");
    }, 120_000);
  }
});

/** One GET route: every path to try × every flag combination × GET, and × each flag × HEAD. */
async function walkReads(r: LiveRoute, caller: Caller): Promise<void> {
  const paths = await pathsFor(r);
  const jobs: [string, string][] = [];
  for (const path of paths) {
    for (const q of queries) jobs.push(["GET", withQuery(path, q)]);
    for (const q of headQueries) jobs.push(["HEAD", withQuery(path, q)]);
  }
  const leaks: { target: string; what: string }[] = [];
  await pool(jobs, 6, async ([m, t]) => {
    leaks.push(...(await compareAnonymous(m, t, caller)));
  });
  if (leaks.length) throw new Error(`${caller} answers differ between a populated and an empty node (paths ${paths.join(", ")}): ${reportLeaks(leaks)}`);
}

/** A valid body for the JSON write routes the suite knows how to satisfy (`n` keeps names unique). */
const VALID_BODIES: Record<string, (n: number) => Record<string, unknown>> = {
  "PUT /v1/agent/service/register": (n) => ({ ID: `walk-${n}`, Name: "walk", Port: 1 }),
  "PUT /v1/agent/check/register": (n) => ({ ID: `walk-check-${n}`, Name: "walk check", TTL: "10m" }),
  "PUT /v1/catalog/register": (n) => ({ Node: `walk-node-${n}`, Address: "10.0.0.1" }),
  "PUT /v1/catalog/deregister": (n) => ({ Node: `walk-node-${n}` }),
  "PUT /v1/acl/policy": (n) => ({ Name: `walk-policy-${n}`, Rules: 'key "walk" { policy = "read" }' }),
  "PUT /v1/acl/token": (n) => ({ Description: `walk-${n}`, Policies: [] }),
  "POST /v1/connect/intentions": (n) => ({ SourceName: `walk-src-${n}`, DestinationName: "walk-dst", Action: "allow" }),
  "PUT /v1/invoke-config/{service}": () => ({ strategy: "round_robin" }),
  "PUT /v1/plugins/{name}": () => ({ enabled: true }),
  "POST /v1/job/{id}/plan": () => ({ id: "walk-plan", groups: [{ name: "g", count: 1, tasks: [{ name: "t", command: "/bin/true", resources: { cpu: 10, memory: 16 } }] }] }),
};

/** Parameter values for the write walk: names that exist on the empty twin, so a control request reaches its handler. */
function writePath(r: LiveRoute): string {
  const id = r.path.startsWith("/v1/acl/policy/") ? made.policyId : "walk-1";
  return fillParams(r.path, { name: "probe", service: "walk", key: "walk/key", id, accessor: made.tokenAccessor, address: "127.0.0.1:1", path: "x" });
}

/** A policy and a token on the empty twin, so that their update routes reach a handler (set in beforeAll below). */
const made = { policyId: "walk-1", tokenAccessor: "00000000-0000-0000-0000-000000000099" };

let counter = 0;
function bodyFor(r: LiveRoute, json = r.jsonBody): { text: string; obj: Record<string, unknown> | undefined } {
  const make = VALID_BODIES[`${r.method} ${r.path.replace(/\{(\w+)\{[^}]*\}\}/g, "{$1}")}`];
  const obj = make ? make(++counter) : json ? Object.fromEntries((r.bodyKeys.length ? r.bodyKeys : ["Name"]).slice(0, 1).map((k) => [k, "walk"])) : undefined;
  return { text: obj ? JSON.stringify(obj) : "walk", obj };
}

function send(t: Twin, r: LiveRoute, headers: Record<string, string>, body: string | undefined): Promise<Observed> {
  return observe(t.url + writePath(r), {
    method: r.method,
    headers: { "X-Consul-Token": t.management, ...headers },
    body: r.method === "HEAD" || r.method === "OPTIONS" ? undefined : body,
  });
}

/**
 * Whether a route reads its body as JSON although its OpenAPI entry does not
 * say so (Consul-compatible routes decode their bodies themselves): a
 * truncated JSON document is refused (400) differently from an empty object.
 */
async function parsesJson(t: Twin, r: LiveRoute): Promise<boolean> {
  const broken = await send(t, r, { "Content-Type": "application/json" }, '{"a":');
  if (broken.status !== 400) return false;
  const empty = await send(t, r, { "Content-Type": "application/json" }, "{}");
  return empty.status !== 400 || empty.body !== broken.body;
}

/** Write routes whose control request is itself refused with 403: their browser variants prove nothing (listed at the end). */
const vacuous: string[] = [];
afterAll(() => {
  if (vacuous.length) console.log(`routes-walk: the control request got 403 on ${vacuous.length} write route(s), so their cross-site variants prove nothing:\n  ${vacuous.join("\n  ")}`);
});

// OPTIONS is left out with GET and HEAD: a safe method (RFC 9110), which a
// browser sends across sites only as a CORS preflight, without a body.
const writeRoutes = routes.filter((r) => !["GET", "HEAD", "OPTIONS"].includes(r.method) && !r.hidden && r.permission !== "peer");

describe("writes from a web page: cross-site, foreign Origin, form content types, duplicate keys", () => {
  const t = () => twins.empty;
  // Something for /v1/invoke/walk to reach (a closed port: 502/503) and an
  // intention letting the management token call it: without them every
  // invoke request is refused by the intentions' default deny (a 403 that is
  // not the browser rule's).
  beforeAll(async () => {
    for (const [label, p] of [
      ["service walk", as(t(), "PUT", "/v1/agent/service/register", { ID: "walk-0", Name: "walk", Port: 1 })],
      ["intention * → walk", as(t(), "POST", "/v1/connect/intentions", { SourceName: "*", DestinationName: "walk", Action: "allow" })],
    ] as const) {
      const r = await p;
      if (r.status !== 200) throw new Error(`${label}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const policy = await as(t(), "PUT", "/v1/acl/policy", { Name: "walk-target", Rules: 'key "walk" { policy = "read" }' });
    const token = await as(t(), "PUT", "/v1/acl/token", { Description: "walk target", Policies: [{ Name: "walk-target" }] });
    if (policy.status !== 200 || token.status !== 200) throw new Error(`walk targets: policy ${policy.status}, token ${token.status}`);
    made.policyId = policy.body.ID;
    made.tokenAccessor = token.body.AccessorID;
  });
  test("the walk finds the write routes", () => {
    expect(writeRoutes.length).toBeGreaterThan(40);
  });

  for (const r of writeRoutes) {
    test(`${r.method} ${r.path}: cross-site${r.jsonBody ? ", content types, duplicate keys" : " (and, if it parses JSON, content types, duplicate keys)"}`, async () => {
      const failures: string[] = [];
      const target = writePath(r);
      const json = r.jsonBody || (await parsesJson(t(), r));
      const jsonType: Record<string, string> = json ? { "Content-Type": "application/json" } : {};
      // The control: same request, same token, from the node's own page.
      const plain = await send(t(), r, jsonType, bodyFor(r, json).text);
      const own = await send(t(), r, { ...jsonType, Origin: `http://127.0.0.1:${t().port}`, "Sec-Fetch-Site": "same-origin" }, bodyFor(r, json).text);
      if (plain.status === 403) vacuous.push(`${r.method} ${target} (${plain.body.slice(0, 60)})`);
      if (own.status === 403 && plain.status !== 403) failures.push(`${r.method} ${target} from the node's own origin: refused (403 ${own.body.slice(0, 80)}) where the same request without Origin got ${plain.status}`);
      for (const v of crossSiteVariants(t().port)) {
        const res = await send(t(), r, { ...jsonType, ...v.headers }, bodyFor(r, json).text);
        if (res.status !== 403) failures.push(`${r.method} ${target} [${v.label}]: not refused: ${res.status} (want 403) ${res.body.slice(0, 80)}`);
      }
      if (json) {
        for (const type of SIMPLE_CONTENT_TYPES) {
          const res = await send(t(), r, { "Content-Type": type }, bodyFor(r, json).text);
          if (res.status !== 415) failures.push(`${r.method} ${target} [Content-Type: ${type}, same origin]: ${res.status} (want 415) ${res.body.slice(0, 80)}`);
        }
        const control = bodyFor(r, json);
        const ok = await send(t(), r, jsonType, control.text);
        for (const kind of ["exact", "case"] as const) {
          const { obj } = bodyFor(r, json);
          const text = duplicateKeyBody(obj ?? {}, kind);
          const res = await send(t(), r, jsonType, text);
          if (res.status !== 400) failures.push(`${r.method} ${target} [duplicate key, ${kind}: ${text.slice(0, 80)}]: ${res.status} (want 400; the same body without the duplicate: ${ok.status}) ${res.body.slice(0, 80)}`);
        }
      }
      if (failures.length) throw new Error(report(failures));
    }, 60_000);
  }
});

describe("Host: a foreign Host is refused on every route, GET included (DNS rebinding)", () => {
  test("every route × foreign Hosts → 403 or 421; the node's own names still work", async () => {
    const t = twins.empty;
    const failures: string[] = [];
    const served = new Map<string, string[]>();
    const jobs: { r: LiveRoute; host: string; own: boolean }[] = [];
    for (const r of routes.filter((x) => x.permission !== "peer")) {
      for (const host of foreignHosts(t.port)) jobs.push({ r, host, own: false });
    }
    // The node's own names on a few plain reads: a Host check that refuses them would break every client.
    for (const r of routes.filter((x) => x.method === "GET" && ["/v1/healthz", "/v1/kv/{key{.*}}", "/v1/catalog/services", "/ui"].includes(x.path))) {
      for (const host of ownHosts(t.port)) jobs.push({ r, host, own: true });
    }
    await pool(jobs, 8, async ({ r, host, own }) => {
      const target = r.method === "GET" ? fillParams(r.path, { key: "walk/key" }) : writePath(r);
      const body = r.method === "GET" || r.method === "OPTIONS" ? undefined : new TextEncoder().encode(bodyFor(r).text);
      let res;
      try {
        res = await rawRequest(t.port, {
          method: r.method, target,
          headers: [["Host", host], ["X-Consul-Token", t.management], ...(r.jsonBody ? [["Content-Type", "application/json"] as [string, string]] : [])],
          body,
        }, { timeoutMs: 3_000, maxBodyBytes: 64 * 1024 });
      } catch (err) {
        failures.push(`${r.method} ${target} [Host: ${host}]: no answer (${(err as Error).message})`);
        return;
      }
      if (own && (res.status === 421 || (res.status === 403 && /host/i.test(res.body.toString())))) failures.push(`${r.method} ${target} [Host: ${host}, the node's own]: refused ${res.status}`);
      if (!own && res.status !== 403 && res.status !== 421) served.set(`${r.method} ${target}`, [...(served.get(`${r.method} ${target}`) ?? []), `${host} → ${res.status || (res.timedOut ? "still streaming" : "closed")}`]);
    });
    for (const [req, hosts] of served) failures.push(`${req}: served to a foreign Host (want 403 or 421): ${hosts.join(", ")}`);
    if (failures.length) throw new Error(report(failures));
  }, 120_000);
});

describe("bounded work: regex bombs and oversized bodies", () => {
  // Every GET route with ?filter= regexes that take a backtracking engine
  // exponential time on the populated twin's meta value (REGEX_BOMB_INPUT),
  // as the management token (so the filter runs over everything): each must
  // be answered — any status — within 5 s.
  test("every GET route × ?filter= regex bombs answers in bounded time", async () => {
    const bombs = ['Service matches "(a+)+$"', 'Meta.bomb matches "(a+)+$"', 'ServiceMeta.bomb matches "(a|aa)*c"', 'Key matches "(a|a)*$"', 'Node matches "(a*)*b"'];
    const slow: string[] = [];
    const jobs: string[] = [];
    for (const r of getRoutes.filter((x) => !x.hidden && !["/v1/events", "/v1/alloc/{id}/logs"].includes(x.path))) {
      const combos = combinations(paramNames(r.path), (n) => paramCandidates(twins.state, n).slice(0, 2), 1);
      for (const b of bombs) jobs.push(withQuery(fillParams(r.path, combos[0]!), `filter=${encodeURIComponent(b)}`));
    }
    await pool(jobs, 4, async (target) => {
      const t0 = Date.now();
      const res = await observe(twins.populated.url + target, { headers: { "X-Consul-Token": twins.populated.management } });
      const ms = Date.now() - t0;
      if (res.status === 0 || ms > 5_000) slow.push(`GET ${decodeURIComponent(target)}: ${res.status || "no answer"} after ${ms} ms`);
    });
    if (slow.length) throw new Error(report(slow));
  }, 120_000);

  // Every write route (streamed /v1/invoke/ aside: it has no body limit by
  // design) with a declared body one byte over http.max_body_bytes that never
  // comes: 413 without waiting for it.
  test("every write route refuses a declared oversized body before reading it", async () => {
    const MAX_BODY = 1_048_576; // http.max_body_bytes' default: the twins do not set it
    const failures: string[] = [];
    const targets = writeRoutes.filter((r) => !r.path.startsWith("/v1/invoke/"));
    const answers = await Promise.all(targets.map((r) => headOnly(twins.empty.port, r.method, writePath(r), MAX_BODY + 1, { "X-Consul-Token": twins.empty.management, "Content-Type": "application/json" }, 5_000)));
    for (const [i, r] of targets.entries()) {
      const res = answers[i];
      if (!res) failures.push(`${r.method} ${writePath(r)}: no answer in 5 s to a withheld ${MAX_BODY + 1}-byte body (want 413 at once)`);
      else if (res.status !== 413) failures.push(`${r.method} ${writePath(r)}: ${res.status} (want 413)`);
    }
    if (failures.length) throw new Error(report(failures));
  }, 60_000);
});

// A known leak the walk must find on code without the read fixes; checked
// directly too, so that the message names it plainly.
test("GET /v1/kv/<secret key>?recurse&raw, anonymous, does not carry the value", async () => {
  const key = twins.state.kvKeys[0]!;
  const res = await observe(`${twins.populated.url}/v1/kv/${key}?recurse&raw`);
  expect(res.body).not.toContain(twins.state.secrets[0]!);
  expect(res.status).not.toBe(200);
});

// Kept last: the populated twin must never have been written by this file
// (an anonymous write accepted during the walk would show here).
test("the populated twin still holds exactly what was put into it", async () => {
  const res = await as(twins.populated, "GET", "/v1/kv/?keys");
  expect(res.body).toEqual([SHARED.key, ...twins.state.kvKeys, "zz-fence"].sort());
});
