// Issue 19, point 4 (the test half): a fast path must answer exactly as the
// route it is declared on (core/http/fast-route.ts). A fast path takes only a
// request that declares its length (Content-Length); the same request sent
// chunked goes to the route through hono. Each corpus below is sent both ways
// to a real dev node; status, Content-Type and body must be the same.
//
// Signatures are varied too (forged, for another body, replayed, stale, for
// another receiver, another node's): on a peer route the cluster signature,
// on the agents' allocation read the node signature an agent's forward
// carries, which a failing check turns into a client's read.
//
// Generic over the declared fast paths: the node's /v1/openapi.json marks the
// routes that carry one ("x-corral-fast-path"), and a declared fast path
// without a corpus here fails by name, as does a corpus whose route lost its
// fast path.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { signRequest, SIGNATURE_HEADER } from "../../core/http/middleware/cluster-auth.ts";

const SECRET = "fast-path-corpus-secret-0123456789";
/** raft.max_message_bytes of the node: the Raft corpus sends a batch just over it. */
const RAFT_CAP = 6 * 1024 * 1024;
let node: CorralProcess;
/** The dev node's own node id, with a finished batch allocation on it (the allocation read corpus). */
let nodeId = "";
afterAll(killAll);
beforeAll(async () => {
  node = await startCorral({ role: "dev", config: `[cluster]\nsecret = "${SECRET}"\n[raft]\nmax_message_bytes = ${RAFT_CAP}\n` });
  // What the KV read corpus reads.
  for (const k of ["corpus/read", "corpus/read/under"]) expect((await fetch(`${node.url}/v1/kv/${k}`, { method: "PUT", body: "value" })).status).toBe(200);
  // What the catalog and health read corpora read.
  for (const [nodeName, id, tag] of [["cn1", "web-1", "a"], ["cn2", "web-2", "b"]]) {
    const body = JSON.stringify({ Node: nodeName, Address: "10.0.0.1", Service: { ID: id, Service: "web", Tags: [tag], Port: 80 }, Check: { CheckID: `${id}-c`, Name: "c", ServiceID: id, Status: tag === "a" ? "passing" : "critical" } });
    expect((await fetch(`${node.url}/v1/catalog/register`, { method: "PUT", body, headers: { "content-type": "application/json" } })).status).toBe(200);
  }
  // What the allocation read corpus reads: a batch job's allocation that ran and finished (no answer changes after).
  await eventually(async () => (await getJson<{ id: string }[]>(node.url + "/v1/nodes")).body.length === 1, 20_000);
  nodeId = (await getJson<{ id: string }[]>(node.url + "/v1/nodes")).body[0]!.id;
  const job = { id: "corpus-batch", type: "batch", groups: [{ name: "g", count: 1, restart: { attempts: 0, mode: "fail" }, tasks: [{ name: "t", command: "/bin/true", args: [], resources: { cpu: 50, memory: 32 } }] }] };
  expect((await fetch(`${node.url}/v1/jobs`, { method: "POST", body: JSON.stringify(job), headers: { "content-type": "application/json" } })).status).toBe(200);
  await eventually(async () => {
    const allocs = (await getJson<{ clientStatus: string }[]>(`${node.url}/v1/node/${nodeId}/allocations`)).body;
    return allocs.length === 1 && allocs[0]!.clientStatus === "complete";
  }, 30_000);
}, 90_000);

interface Case {
  name: string;
  body: string;
  /** Path and query, when not the corpus's path. */
  path?: string;
  /**
   * How a signed route's request is signed: validly (default), with another
   * secret, for another body of the same length, not at all, a valid header
   * sent a second time, an hour old, for another receiver, by another node.
   * On a route that is not signed, `nodeSigned` says whether these apply.
   */
  signature?: Signature;
  /** On a route that is not a peer route: sign the request as a node signs its forward (as `signature` says; default valid). */
  nodeSigned?: boolean;
  /** Another method than the corpus's (HEAD of a GET route: never a fast path's, compared all the same). */
  method?: string;
  /** Content-Type (default application/json on signed routes, none on others); null: none. */
  contentType?: string | null;
}

type Signature = "valid" | "wrong-secret" | "other-body" | "none" | "replayed" | "stale" | "other-receiver" | "other-node";

interface Corpus {
  method: string;
  path: string;
  /** Node-signed (a peer route): every case is signed as its `signature` says. */
  signed: boolean;
  /** Counted in corral_http_requests_total on the fast path too; if not, the test checks the fast send was not counted (it took the fast path). */
  metered: boolean;
  cases: Case[];
  /** Response headers compared too (besides status, Content-Type and body). */
  headers?: string[];
  /** What in the body is the request's own and differs between two sends by design (a write's log index). */
  normalize?: (body: string) => string;
}

const UNKNOWN = "11111111-1111-4111-8111-111111111111";
const SESSION = "22222222-2222-4222-8222-222222222222";
/** A message for no node here: a valid Raft message the node's replicator drops (it is not `to` it). */
const msg = (over: Record<string, unknown> = {}) => ({ type: "Heartbeat", from: "peer:1", to: "nobody:1", term: 1, commit: 0, readSeq: 0, ...over });
const batch = (messages: unknown, from: unknown = "peer:1") => JSON.stringify({ from, messages });
/** An agent's status report (UpdateAllocStatus v1), for an allocation no node holds: applied, ignored. */
const report = (over: Record<string, unknown> = {}, update: Record<string, unknown> = {}) => JSON.stringify({
  type: "UpdateAllocStatus", v: 1, at: 1, nodeId: UNKNOWN,
  updates: [{ allocId: SESSION, clientStatus: "running", description: "", taskStates: {}, ...update }], ...over,
});
/** Each write is its own log entry: its index differs from one send to the next. */
const writeIndex = (body: string) => body.replace(/"index":\d+/g, '"index":0');
const allocPath = () => `/v1/node/${nodeId}/allocations`;

/** Keyed as "METHOD /openapi/path", as the node's OpenAPI document names the route. */
const CORPORA: Record<string, Corpus> = {
  "POST /v1/raft/message": {
    method: "POST", path: "/v1/raft/message", signed: true, metered: false,
    headers: ["content-security-policy", "x-content-type-options"],
    cases: [
      { name: "a valid batch", body: batch([msg()]) },
      { name: "an empty batch", body: batch([]) },
      { name: "every message type", body: batch(["PreVote", "Vote", "Append", "AppendResp", "Snapshot", "TimeoutNow"].map((type) => msg({ type }))) },
      { name: "an unknown message type", body: batch([msg({ type: "Bogus" })]) },
      { name: "an overlong message type", body: batch([msg({ type: "T".repeat(33) })]) },
      { name: "no sender", body: JSON.stringify({ messages: [msg()] }) },
      { name: "a sender that is no string", body: batch([msg()], 7) },
      { name: "an overlong sender", body: batch([msg()], "p".repeat(301)) },
      { name: "an overlong from", body: batch([msg({ from: "p".repeat(301) })]) },
      { name: "an overlong to", body: batch([msg({ to: "n".repeat(301) })]) },
      { name: "a negative term", body: batch([msg({ term: -1 })]) },
      { name: "a fractional term", body: batch([msg({ term: 1.5 })]) },
      { name: "a term as a string", body: batch([msg({ term: "1" })]) },
      { name: "no term", body: batch([{ type: "Heartbeat", from: "a", to: "b" }]) },
      { name: "a null message", body: batch([null]) },
      { name: "messages as an object", body: batch({ 0: msg() }) },
      { name: "no messages", body: JSON.stringify({ from: "peer:1" }) },
      { name: "a JSON array", body: "[]" },
      { name: "JSON null", body: "null" },
      { name: "not JSON", body: "{ not json" },
      { name: "an empty body", body: "" },
      { name: "a duplicate key", body: `{"from":"a","from":"b","messages":[]}` },
      { name: "more than 100,000 messages", body: batch(Array.from({ length: 100_001 }, () => ({ type: "x", from: "a", to: "b", term: 0 }))) },
      { name: "a batch over raft.max_message_bytes", body: batch([msg({ pad: "x".repeat(RAFT_CAP) })]) },
      { name: "a wrong secret", body: batch([msg()]), signature: "wrong-secret" },
      { name: "a signature for another body", body: batch([msg()]), signature: "other-body" },
      { name: "no signature", body: batch([msg()]), signature: "none" },
      { name: "a text/plain body", body: batch([msg()]), contentType: "text/plain" },
      { name: "no Content-Type", body: batch([msg()]), contentType: null },
      { name: "JSON with a charset", body: batch([msg()]), contentType: "application/json; charset=utf-8" },
    ],
  },
  "POST /v1/cluster/heartbeat": {
    method: "POST", path: "/v1/cluster/heartbeat", signed: true, metered: false,
    headers: ["content-security-policy", "x-content-type-options"],
    cases: [
      { name: "an unknown node", body: JSON.stringify({ id: UNKNOWN }) },
      { name: "not JSON", body: "{ not json" },
      { name: "an empty body", body: "" },
      { name: "a JSON array", body: "[]" },
      { name: "no id", body: "{}" },
      { name: "an id that is no UUID", body: JSON.stringify({ id: "x" }) },
      { name: "a very long id", body: JSON.stringify({ id: "x".repeat(4000) }) },
      { name: "a wrong sample", body: JSON.stringify({ id: UNKNOWN, sample: "hot" }) },
      { name: "a duplicate key", body: `{"id":"${UNKNOWN}","id":"${UNKNOWN}"}` },
      { name: "a body over http.max_body_bytes", body: JSON.stringify({ id: UNKNOWN, pad: "x".repeat(1024 * 1024 + 1) }) },
      { name: "a wrong secret", body: JSON.stringify({ id: UNKNOWN }), signature: "wrong-secret" },
      { name: "a signature for another body", body: JSON.stringify({ id: UNKNOWN }), signature: "other-body" },
      { name: "no signature", body: JSON.stringify({ id: UNKNOWN }), signature: "none" },
      { name: "no Content-Type", body: JSON.stringify({ id: UNKNOWN }), contentType: null },
      { name: "no Content-Type, no body", body: "", contentType: null },
      { name: "a text/plain body", body: JSON.stringify({ id: UNKNOWN }), contentType: "text/plain" },
      { name: "a +json media type", body: JSON.stringify({ id: UNKNOWN }), contentType: "application/vnd.corral+json" },
      { name: "JSON with a charset", body: JSON.stringify({ id: UNKNOWN }), contentType: "application/json; charset=utf-8" },
    ],
  },
  "PUT /v1/kv/{key}": {
    method: "PUT", path: "/v1/kv/corpus/a", signed: false, metered: true,
    headers: ["content-security-policy", "x-content-type-options"],
    cases: [
      { name: "a plain value", body: "hello" },
      { name: "an empty value", body: "" },
      { name: "a binary-looking value", body: "\u0000\u00ff{}" },
      { name: "a JSON-looking value", body: "{\"a\":1}", contentType: "application/json" },
      { name: "a deep key", path: "/v1/kv/" + "d/".repeat(40) + "leaf", body: "x" },
      { name: "a key at the length limit", path: "/v1/kv/" + "k".repeat(1024), body: "x" },
      { name: "a key over the length limit", path: "/v1/kv/" + "k".repeat(1025), body: "x" },
      { name: "no key", path: "/v1/kv/", body: "x" },
      { name: "an acquire with an unknown session", path: `/v1/kv/corpus/lock?acquire=${SESSION}`, body: "me" },
      { name: "a release with an unknown session", path: `/v1/kv/corpus/lock?release=${SESSION}`, body: "" },
      { name: "a value over the KV limit", path: "/v1/kv/corpus/big", body: "v".repeat(600 * 1024) },
    ],
  },
  // A GET has no body: its route form is the same request with `Content-Length: 0` (see send).
  "GET /v1/kv/{key}": {
    method: "GET", path: "/v1/kv/corpus/read", signed: false, metered: true,
    headers: ["x-consul-index", "x-consul-knownleader", "x-consul-effective-consistency", "content-security-policy", "x-content-type-options", "x-corral-index"],
    cases: [
      { name: "a key", body: "" },
      { name: "a missing key (404, the index under it)", path: "/v1/kv/corpus/missing", body: "" },
      { name: "a missing key with keys under it", path: "/v1/kv/corpus/rea", body: "" },
      { name: "a passed index", path: "/v1/kv/corpus/read?index=1&wait=1s", body: "" },
      { name: "an index not reached yet, a short wait", path: "/v1/kv/corpus/read?index=99999999&wait=20ms", body: "" },
      { name: "stale", path: "/v1/kv/corpus/read?stale", body: "" },
      { name: "consistent", path: "/v1/kv/corpus/read?consistent=", body: "" },
      { name: "stale and consistent", path: "/v1/kv/corpus/read?stale&consistent", body: "" },
      { name: "our datacenter", path: "/v1/kv/corpus/read?dc=dc1", body: "" },
      { name: "another datacenter", path: "/v1/kv/corpus/read?dc=elsewhere", body: "" },
      { name: "a bad index", path: "/v1/kv/corpus/read?index=abc", body: "" },
      { name: "a bad wait", path: "/v1/kv/corpus/read?index=1&wait=10", body: "" },
      { name: "a duplicate index", path: "/v1/kv/corpus/read?index=1&index=2", body: "" },
      { name: "a token in the query", path: "/v1/kv/corpus/read?token=anything", body: "" },
      { name: "recurse", path: "/v1/kv/corpus/read?recurse", body: "" },
      { name: "raw", path: "/v1/kv/corpus/read?raw", body: "" },
      { name: "keys", path: "/v1/kv/corpus/?keys&separator=/", body: "" },
      { name: "an unknown parameter", path: "/v1/kv/corpus/read?bogus=1", body: "" },
      { name: "an encoded key", path: "/v1/kv/corpus%2Fread", body: "" },
      { name: "a key over the length limit", path: "/v1/kv/" + "k".repeat(1025), body: "" },
      { name: "no key", path: "/v1/kv/", body: "" },
    ],
  },
  "GET /v1/health/service/{service}": {
    method: "GET", path: "/v1/health/service/web", signed: false, metered: true,
    headers: ["x-consul-index", "x-consul-knownleader", "x-consul-effective-consistency", "content-security-policy", "x-content-type-options", "x-corral-index"],
    cases: [
      { name: "a service", body: "" },
      { name: "an unknown service", path: "/v1/health/service/nothing-here", body: "" },
      { name: "another case of the name", path: "/v1/health/service/WEB", body: "" },
      { name: "a passed index", path: "/v1/health/service/web?index=1&wait=1s", body: "" },
      { name: "an index not reached yet, a short wait", path: "/v1/health/service/web?index=99999999&wait=20ms", body: "" },
      { name: "stale", path: "/v1/health/service/web?stale", body: "" },
      { name: "consistent", path: "/v1/health/service/web?consistent=", body: "" },
      { name: "our datacenter", path: "/v1/health/service/web?dc=dc1", body: "" },
      { name: "another datacenter", path: "/v1/health/service/web?dc=elsewhere", body: "" },
      { name: "a bad index", path: "/v1/health/service/web?index=abc", body: "" },
      { name: "a bad wait", path: "/v1/health/service/web?index=1&wait=10", body: "" },
      { name: "a duplicate index", path: "/v1/health/service/web?index=1&index=2", body: "" },
      { name: "a duplicate dc", path: "/v1/health/service/web?dc=dc1&dc=elsewhere", body: "" },
      { name: "a token in the query", path: "/v1/health/service/web?token=anything", body: "" },
      { name: "passing", path: "/v1/health/service/web?passing", body: "" },
      { name: "a bad passing", path: "/v1/health/service/web?passing=maybe", body: "" },
      { name: "a tag", path: "/v1/health/service/web?tag=a", body: "" },
      { name: "node-meta", path: "/v1/health/service/web?node-meta=rack:cn2", body: "" },
      { name: "a filter", path: "/v1/health/service/web?filter=" + encodeURIComponent('Service.ID == "web-2"'), body: "" },
      { name: "a bad filter", path: "/v1/health/service/web?filter=((", body: "" },
      { name: "near", path: "/v1/health/service/web?near=_agent", body: "" },
      { name: "an unknown parameter", path: "/v1/health/service/web?bogus=1", body: "" },
      { name: "an encoded name", path: "/v1/health/service/w%65b", body: "" },
      { name: "a name with a slash", path: "/v1/health/service/web/x", body: "" },
      { name: "no name", path: "/v1/health/service/", body: "" },
    ],
  },
  "GET /v1/catalog/services": {
    method: "GET", path: "/v1/catalog/services", signed: false, metered: true,
    headers: ["x-consul-index", "x-consul-knownleader", "x-consul-effective-consistency", "content-security-policy", "x-content-type-options", "x-corral-index"],
    cases: [
      { name: "the list", body: "" },
      { name: "a passed index", path: "/v1/catalog/services?index=1&wait=1s", body: "" },
      { name: "an index not reached yet, a short wait", path: "/v1/catalog/services?index=99999999&wait=20ms", body: "" },
      { name: "stale", path: "/v1/catalog/services?stale", body: "" },
      { name: "consistent", path: "/v1/catalog/services?consistent", body: "" },
      { name: "our datacenter", path: "/v1/catalog/services?dc=dc1", body: "" },
      { name: "another datacenter", path: "/v1/catalog/services?dc=elsewhere", body: "" },
      { name: "a bad index", path: "/v1/catalog/services?index=-1", body: "" },
      { name: "a duplicate wait", path: "/v1/catalog/services?index=1&wait=1s&wait=2s", body: "" },
      { name: "a token in the query", path: "/v1/catalog/services?token=anything", body: "" },
      { name: "node-meta (refused)", path: "/v1/catalog/services?node-meta=rack:cn1", body: "" },
      { name: "a filter", path: "/v1/catalog/services?filter=" + encodeURIComponent('ServiceID == "web-1"'), body: "" },
      { name: "an unknown parameter", path: "/v1/catalog/services?bogus", body: "" },
      { name: "a trailing slash", path: "/v1/catalog/services/", body: "" },
    ],
  },
  // The agents' status reports (and every other write a node forwards).
  "POST /v1/cluster/propose": {
    method: "POST", path: "/v1/cluster/propose", signed: true, metered: true, normalize: writeIndex,
    headers: ["content-security-policy", "x-content-type-options", "x-corral-outcome"],
    cases: [
      { name: "a status report", body: report() },
      { name: "a report of a failed task", body: report({}, { clientStatus: "failed", description: "exit 1" }) },
      { name: "a report for a node that is no UUID", body: report({ nodeId: "x" }) },
      { name: "a report without updates", body: report({ updates: [] }) },
      { name: "a report with an unknown status", body: report({}, { clientStatus: "sleeping" }) },
      { name: "a v2 report (the leader's own)", body: report({ v: 2 }) },
      { name: "an unknown command", body: JSON.stringify({ type: "Bogus", v: 1, at: 1 }) },
      { name: "a command with no type", body: JSON.stringify({ v: 1 }) },
      { name: "a JSON array", body: "[]" },
      { name: "JSON null", body: "null" },
      { name: "not JSON", body: "{ not json" },
      { name: "an empty body", body: "" },
      { name: "a duplicate key", body: report().replace('"v":1', '"v":2,"v":1') },
      { name: "a body over http.max_body_bytes", body: report({ pad: "x".repeat(1024 * 1024 + 1) }) },
      { name: "a wrong secret", body: report(), signature: "wrong-secret" },
      { name: "a signature for another body", body: report(), signature: "other-body" },
      { name: "no signature", body: report(), signature: "none" },
      { name: "a replayed signature", body: report(), signature: "replayed" },
      { name: "a stale signature", body: report(), signature: "stale" },
      { name: "a signature for another receiver", body: report(), signature: "other-receiver" },
      { name: "another node's signature", body: report(), signature: "other-node" },
      { name: "no Content-Type", body: report(), contentType: null },
      { name: "a text/plain body", body: report(), contentType: "text/plain" },
      { name: "JSON with a charset", body: report(), contentType: "application/json; charset=utf-8" },
    ],
  },
  // The agents' watch of their allocations: signed as an agent's forward (HOP: its node signature), or a client's read.
  "GET /v1/node/{id}/allocations": {
    method: "GET", path: "/v1/node/{id}/allocations", signed: false, metered: true,
    headers: ["x-corral-index", "content-security-policy", "x-content-type-options", "x-consul-index"],
    cases: [
      { name: "the node's allocations, signed by its agent", path: "@?index=1&wait=1s", body: "", nodeSigned: true },
      { name: "the node's allocations, unsigned", path: "@", body: "" },
      { name: "an index not reached yet, a short wait", path: "@?index=99999999&wait=20ms", body: "", nodeSigned: true },
      { name: "an unknown node", path: `/v1/node/${UNKNOWN}/allocations?index=1&wait=1s`, body: "", nodeSigned: true },
      { name: "an id over the length limit", path: `/v1/node/${"n".repeat(257)}/allocations`, body: "", nodeSigned: true },
      { name: "an encoded id", path: "/v1/node/%41/allocations", body: "" },
      { name: "an id with a slash", path: "/v1/node/a/b/allocations", body: "" },
      { name: "a trailing slash", path: "@/", body: "" },
      { name: "a bad index", path: "@?index=abc", body: "", nodeSigned: true },
      { name: "an index over 16 digits", path: "@?index=12345678901234567", body: "" },
      { name: "an index over the schema's length", path: "@?index=123456789012345678901", body: "" },
      { name: "a bad wait", path: "@?index=1&wait=10", body: "", nodeSigned: true },
      { name: "a duplicate index", path: "@?index=1&index=2", body: "", nodeSigned: true },
      { name: "stale", path: "@?stale", body: "" },
      { name: "consistent", path: "@?consistent", body: "" },
      { name: "a token in the query", path: "@?token=anything", body: "" },
      { name: "an unknown parameter", path: "@?bogus=1", body: "" },
      { name: "a forged signature", path: "@?index=1&wait=1s", body: "", nodeSigned: true, signature: "wrong-secret" },
      { name: "a replayed signature", path: "@?index=1&wait=1s", body: "", nodeSigned: true, signature: "replayed" },
      { name: "a stale signature", path: "@?index=1&wait=1s", body: "", nodeSigned: true, signature: "stale" },
      { name: "a signature for another receiver", path: "@?index=1&wait=1s", body: "", nodeSigned: true, signature: "other-receiver" },
      { name: "another node's signature (not the one read)", path: "@?index=1&wait=1s", body: "", nodeSigned: true, signature: "other-node" },
      { name: "HEAD, signed", path: "@?index=1&wait=1s", body: "", nodeSigned: true, method: "HEAD" },
    ],
  },
};

/** The routes the node declares a fast path on ("METHOD /path"), from its OpenAPI document. */
async function declaredFastPaths(): Promise<string[]> {
  const doc = (await (await fetch(`${node.url}/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, Record<string, unknown>>> };
  const out: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) if (op?.["x-corral-fast-path"] === true) out.push(`${method.toUpperCase()} ${path}`);
  }
  return out.sort();
}

/** The signature header for a request, as `how` says. */
function signatureFor(how: Signature, method: string, path: string, body: string, host: string): string | undefined {
  if (how === "none") return undefined;
  const signed = how === "other-body" ? body.replace(/.$/, (ch) => (ch === "}" ? "]" : "}")) : body;
  const secret = how === "wrong-secret" ? "another-secret-0123456789abcdef" : SECRET;
  const now = how === "stale" ? Date.now() - 3_600_000 : undefined;
  const to = how === "other-receiver" ? "127.0.0.1:1" : host;
  return signRequest({ secret, node: how === "other-node" ? "another-node" : "corpus" }, method, path, signed, { to, now });
}

async function send(corpus: Corpus, c: Case, chunked: boolean) {
  // "@": the corpus's own path (with a query after it), for a path known only once the node runs.
  const path = c.path?.startsWith("@") ? allocPath() + c.path.slice(1) : c.path ?? (corpus.path.includes("{") ? allocPath() : corpus.path);
  const host = `127.0.0.1:${node.port}`;
  const headers: Record<string, string> = {};
  const type = c.contentType === undefined ? (corpus.signed ? "application/json" : undefined) : c.contentType;
  if (type) headers["content-type"] = type;
  const method = c.method ?? corpus.method;
  const bodiless = method === "GET" || method === "HEAD";
  const how = corpus.signed || c.nodeSigned ? c.signature ?? "valid" : "none";
  const signature = signatureFor(how, method, path, c.body, host);
  if (signature) headers[SIGNATURE_HEADER] = signature;
  const bytes = new TextEncoder().encode(c.body);
  // A GET's fast path takes it only without a body: a declared empty one goes to the route.
  if (bodiless && chunked) headers["content-length"] = "0";
  const request = () => fetch(node.url + path, {
    method, headers,
    body: bodiless ? undefined : chunked ? new ReadableStream({ start(s) { s.enqueue(bytes); s.close(); } }) : c.body,
  });
  // A replay: the header once as it was made (its nonce spent), then the compared request with the same header.
  if (how === "replayed") await (await request()).arrayBuffer();
  const res = await request();
  const compared = Object.fromEntries((corpus.headers ?? []).map((h) => [h, res.headers.get(h)]));
  const body = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), body: corpus.normalize ? corpus.normalize(body) : body, ...compared };
}

/** corral_http_requests_total for one route pattern, all statuses. */
async function requestsCounted(route: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  let n = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("corral_http_requests_total{") && line.includes(`route="${route}"`)) n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

test("every declared fast path has a corpus, and every corpus a declared fast path", async () => {
  const declared = await declaredFastPaths();
  expect(declared.length).toBeGreaterThan(0);
  expect({ withoutCorpus: declared.filter((k) => !CORPORA[k]), withoutFastPath: Object.keys(CORPORA).filter((k) => !declared.includes(k)) })
    .toEqual({ withoutCorpus: [], withoutFastPath: [] });
});

for (const [key, corpus] of Object.entries(CORPORA)) {
  describe(`${key}: fast path and route answer alike`, () => {
    test("has a corpus of valid and invalid inputs", () => {
      expect(corpus.cases.length).toBeGreaterThanOrEqual(5);
      expect(corpus.cases.some((c) => c.signature === undefined || c.signature === "valid")).toBe(true);
    });

    if (!corpus.metered) {
      // Else the corpus could compare the route with itself: an unmetered fast path leaves the route's counter alone.
      test("the request with a length takes the fast path", async () => {
        const route = key.slice(key.indexOf(" ") + 1);
        const before = await requestsCounted(route);
        const first = corpus.cases[0]!;
        await send(corpus, first, false);
        expect(await requestsCounted(route)).toBe(before);
        await send(corpus, first, true);
        expect(await requestsCounted(route)).toBe(before + 1);
      });
    }

    for (const c of corpus.cases) {
      test(c.name, async () => {
        const fast = await send(corpus, c, false);
        const route = await send(corpus, c, true);
        expect(fast).toEqual(route);
      }, 60_000);
    }
  });
}
