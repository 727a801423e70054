// Two dev nodes for the differential oracle: the same kind of node (every
// plugin on, ACLs on, default deny, the same node name, node id and cluster
// secret). Both get the same SHARED things, written in the same order: a KV
// key and a service a NARROW token may read (its policy also grants the node).
// Then one twin is POPULATED with things neither an anonymous client nor the
// narrow token may see (KV keys with secret values, services with checks on
// the same node, an external node, a job with its evaluation and allocation,
// a policy, a token, an intention, an invoke policy); the other stays EMPTY
// of them. An anonymous or narrow-token request must get the same answer from
// both (test/fuzz/differential.ts says what "the same" means).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, getJson, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";

export const TWIN_CONFIG = [
  `[plugins.authz]`, `enabled = true`, `default_policy = "deny"`, `audit_flush_interval = "50ms"`,
].join("\n") + "\n";

/**
 * A meta value on which a backtracking regex engine runs for ever with
 * `(a+)+$` or `(a|aa)*c` (the adversarial suite's ?filter= regex bombs).
 */
export const REGEX_BOMB_INPUT = "a".repeat(48) + "!";

/** The node name both twins carry, so that node names in answers agree. */
export const TWIN_NAME = "twin";

export interface Twin {
  proc: CorralProcess;
  url: string;
  port: number;
  dataDir: string;
  management: string;
  /** The narrow token of this twin (same policy on both, its own secret and accessor). */
  narrow: { secret: string; accessor: string; policyId: string };
}

/** Names the narrow token may read, on both twins. */
export const SHARED = { key: "pub/readme", value: "public-readme-value", service: "pubsvc", serviceId: "pubsvc-1", policy: "narrow" };
const NARROW_RULES = `key_prefix "pub/" { policy = "read" }\nservice "${SHARED.service}" { policy = "read" }\nnode "${TWIN_NAME}" { policy = "read" }\n`;

/** What was put into the populated twin: names an attacker would try, and their secret values. */
export interface Populated {
  nodeId: string;
  kvKeys: string[];
  /** Values no anonymous answer may contain (KV values, tags, meta). */
  secrets: string[];
  services: string[];
  serviceIds: string[];
  checkIds: string[];
  nodes: string[];
  jobId: string;
  evalIds: string[];
  allocIds: string[];
  policyId: string;
  policyName: string;
  tokenAccessor: string;
  intentionId: string;
  /** The populated twin's applied index before the first populating write. */
  baselineIndex: number;
  /** Its applied index after the fence write: every hidden write is below it. */
  fenceIndex: number;
}

export interface Twins {
  populated: Twin;
  empty: Twin;
  state: Populated;
}

async function startTwin(nodeId: string, secret: string): Promise<Twin> {
  const dataDir = join(tempDir("corral-twin-"), "data");
  mkdirSync(dataDir, { recursive: true });
  // The same identity on both: node id, name and secret show up in answers
  // anonymous clients may see (a Consul-style "Node" field), and must agree.
  writeFileSync(join(dataDir, "node-id"), nodeId + "\n", { mode: 0o600 });
  writeFileSync(join(dataDir, "cluster-secret"), secret + "\n", { mode: 0o600 });
  const proc = await startCorral({ role: "dev", dataDir, config: TWIN_CONFIG, args: ["--name", TWIN_NAME] });
  const boot = await getJson(proc.url + "/v1/acl/bootstrap", { method: "PUT" });
  if (boot.status !== 200) throw new Error(`bootstrap failed: ${boot.status} ${JSON.stringify(boot.body)}`);
  return { proc, url: proc.url, port: proc.port, dataDir, management: boot.body.SecretID, narrow: { secret: "", accessor: "", policyId: "" } };
}

export function as(t: Twin, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return getJson(t.url + path, {
    method,
    headers: { "X-Consul-Token": t.management, ...(body !== undefined && typeof body !== "string" ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function must(label: string, p: ReturnType<typeof as>) {
  const r = await p;
  if (r.status !== 200) throw new Error(`populate: ${label}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r;
}

/** The node's applied index, as a management read reports it. */
export async function appliedIndex(t: Twin): Promise<number> {
  const r = await as(t, "GET", "/v1/kv/?keys");
  return Number(r.headers.get("x-corral-index") ?? r.headers.get("x-consul-index") ?? 0);
}

async function populate(t: Twin, nodeId: string): Promise<Populated> {
  const baselineIndex = await appliedIndex(t);
  const secrets = ["hunter2-SECRET-VALUE", "tok-SECRET-VALUE", "cfg-SECRET-VALUE", "top-SECRET-VALUE", "secret-tag-7", "meta-SECRET-owner", "10.9.8.7"];
  const kv: [string, string][] = [["secret/db-password", secrets[0]!], ["secret/api/token", secrets[1]!], ["app/config", secrets[2]!], ["a", secrets[3]!]];
  for (const [k, v] of kv) await must(`kv ${k}`, as(t, "PUT", `/v1/kv/${k}`, v));
  await must("service web-1", as(t, "PUT", "/v1/agent/service/register", {
    ID: "web-1", Name: "web", Port: 8080, Tags: [secrets[4]], Meta: { owner: secrets[5], bomb: REGEX_BOMB_INPUT }, Check: { CheckID: "web-ttl", Name: "web ttl", TTL: "10m" },
  }));
  await must("service db-1", as(t, "PUT", "/v1/agent/service/register", { ID: "db-1", Name: "db", Port: 5432, Check: { CheckID: "db-ttl", TTL: "10m" } }));
  await must("check pass", as(t, "PUT", "/v1/agent/check/pass/web-ttl"));
  await must("external node", as(t, "PUT", "/v1/catalog/register", { Node: "ext-node", Address: secrets[6], Service: { ID: "ext-db-1", Service: "ext-db", Port: 5433 } }));
  // A variable (docs/variables.md): its path and items are hidden things too, and its first write makes the keyring's first key.
  await must("variable", as(t, "PUT", "/v1/var/secret/db", { Items: { password: secrets[0] } }));
  const policy = await must("policy", as(t, "PUT", "/v1/acl/policy", { Name: "hidden-policy", Rules: 'key_prefix "secret/" { policy = "read" }' }));
  const token = await must("token", as(t, "PUT", "/v1/acl/token", { Description: "hidden token", Policies: [{ Name: "hidden-policy" }] }));
  const intention = await must("intention", as(t, "POST", "/v1/connect/intentions", { SourceName: "web", DestinationName: "db", Action: "allow" }));
  await must("invoke policy", as(t, "PUT", "/v1/invoke-config/web", { strategy: "round_robin" }));
  const jobId = "secret-job";
  await must("job", as(t, "POST", "/v1/jobs", {
    id: jobId, groups: [{ name: "g", count: 1, tasks: [{ name: "t", command: "/bin/sleep", args: ["600"], resources: { cpu: 10, memory: 16 } }] }],
  }));
  const allocs = await eventually(async () => {
    const r = await as(t, "GET", `/v1/job/${jobId}/allocations`);
    const list = r.body as { id?: string; ID?: string; status?: string; clientStatus?: string }[];
    // Settled, not necessarily running: an agent that may not run exec tasks
    // (not root, after the workload fix) fails them, and a failed allocation
    // is as good a hidden thing as a running one.
    return Array.isArray(list) && list.length > 0 && list.every((a) => !["pending", ""].includes(String(a.clientStatus ?? a.status ?? ""))) ? list : undefined;
  }, 20_000);
  const evals = (await as(t, "GET", "/v1/evaluations")).body as { id?: string; ID?: string }[];
  // The fence: one more write after everything hidden is in place. Any index
  // an anonymous answer reports strictly between the baseline and the fence
  // is the index of a hidden write.
  await must("fence", as(t, "PUT", "/v1/kv/zz-fence", "fence"));
  await Bun.sleep(200); // the audit flush of the writes above
  const fenceIndex = await appliedIndex(t);
  return {
    nodeId, kvKeys: kv.map(([k]) => k), secrets, services: ["web", "db", "ext-db"], serviceIds: ["web-1", "db-1", "ext-db-1"], checkIds: ["web-ttl", "db-ttl"],
    nodes: [TWIN_NAME, "ext-node"], jobId, evalIds: evals.map((e) => String(e.id ?? e.ID)), allocIds: allocs.map((a) => String(a.id ?? a.ID)),
    policyId: policy.body.ID, policyName: "hidden-policy", tokenAccessor: token.body.AccessorID, intentionId: intention.body.ID,
    baselineIndex, fenceIndex,
  };
}

/** What both twins hold, written in the same order on each, before the baseline. */
async function populateShared(t: Twin): Promise<void> {
  await must("shared kv", as(t, "PUT", `/v1/kv/${SHARED.key}`, SHARED.value));
  await must("shared service", as(t, "PUT", "/v1/agent/service/register", { ID: SHARED.serviceId, Name: SHARED.service, Port: 9000 }));
  const policy = await must("narrow policy", as(t, "PUT", "/v1/acl/policy", { Name: SHARED.policy, Rules: NARROW_RULES }));
  const token = await must("narrow token", as(t, "PUT", "/v1/acl/token", { Description: "narrow", Policies: [{ Name: SHARED.policy }] }));
  t.narrow = { secret: token.body.SecretID, accessor: token.body.AccessorID, policyId: policy.body.ID };
}

/** Starts both twins (in parallel) and populates one. */
export async function startTwins(): Promise<Twins> {
  const nodeId = crypto.randomUUID();
  const secret = `twin-secret-${crypto.randomUUID()}`;
  const [populated, empty] = await Promise.all([startTwin(nodeId, secret), startTwin(nodeId, secret)]);
  // Both nodes register themselves; wait until each lists its own node.
  for (const t of [populated, empty]) await eventually(async () => ((await as(t, "GET", "/v1/nodes")).body as unknown[]).length === 1, 15_000);
  await Promise.all([populateShared(populated), populateShared(empty)]);
  const state = await populate(populated, nodeId);
  return { populated, empty, state };
}

/** Stops the job's task processes (the twins are killed by the test's killAll). */
export function reapTwins(t: Twins | undefined): void {
  if (t) for (const n of [t.populated, t.empty]) reapTasks(n.dataDir);
}

/**
 * Values to fill a path parameter with, by its name: the names of the hidden
 * things that parameter could name, plus one that exists nowhere. A parameter
 * name this table does not know gets every hidden name, so a new route is
 * still tried against everything.
 */
export function paramCandidates(s: Populated, name: string): string[] {
  const ids = [SHARED.serviceId, s.nodeId, s.jobId, ...s.evalIds, ...s.allocIds, s.intentionId, s.policyId, ...s.serviceIds, ...s.checkIds];
  const table: Record<string, string[]> = {
    key: [SHARED.key, ...s.kvKeys, "secret/", "pub/", "secret", ""],
    service: [SHARED.service, ...s.services],
    node: [...s.nodes, s.nodeId],
    id: ids,
    name: ["discovery", s.policyName],
    accessor: [s.tokenAccessor],
    state: ["any", "passing", "critical", "warning"],
    path: ["", "x", "secret/db"],
    file: ["index.js"],
    address: ["127.0.0.1:1"],
  };
  const known = table[name] ?? [...ids, ...s.kvKeys, ...s.services, ...s.nodes, s.policyName, s.tokenAccessor];
  return [...known, "nope-does-not-exist"];
}

/**
 * Each twin's mesh CA (docs/mesh.md): a root with its own key, serial and
 * trust domain, public by design (Consul serves /v1/connect/ca/roots with no
 * token). Per cluster like the node's port, not state a hidden write made.
 */
export async function meshCaAliases(t: Twin): Promise<Record<string, string>> {
  const r = await fetch(`http://127.0.0.1:${t.port}/v1/connect/ca/roots`);
  if (!r.ok) return {};
  const body = (await r.json()) as { TrustDomain: string; Roots: Record<string, unknown>[] };
  const out: Record<string, string> = { [body.TrustDomain]: "<trust-domain>" };
  for (const root of body.Roots) {
    for (const [k, v] of Object.entries(root)) {
      for (const x of Array.isArray(v) ? v : [v]) {
        // As the value stands in a JSON body (PEM newlines escaped).
        if (typeof x === "string" && x.length >= 16) out[JSON.stringify(x).slice(1, -1)] = `<ca-${k}>`;
      }
    }
  }
  return out;
}
