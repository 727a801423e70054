// Fuzzing the whole API of a dev node with every plugin on (and ACLs on,
// default allow, so tokens are parsed and requests reach the handlers):
// at least 10,000 malformed requests over every route — the OpenAPI
// document's and the hidden 405 routes — then:
//  - the process never died and still serves;
//  - every answer passes the oracle (no 5xx, errors shaped as the route's
//    dialect requires: test/fuzz/oracle.ts);
//  - the state is what the accepted requests made it (test/fuzz/model.ts).
// Seeded: CORRAL_FUZZ_SEED=<n> replays a run, CORRAL_FUZZ_COUNT=<n> sizes it.
import { afterAll, expect, test } from "bun:test";
import { getJson, killAll, startCorral } from "../helpers/proc.ts";
import { generate, MAX_BODY_BYTES, type Generated } from "./gen.ts";
import { listRoutes } from "./routes.ts";
import { judge, mayHold } from "./oracle.ts";
import { rawRequest } from "./raw-http.ts";
import { unexplained, type Accepted } from "./model.ts";

afterAll(() => killAll());

const SEED = Number(process.env.CORRAL_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = Number(process.env.CORRAL_FUZZ_COUNT ?? 10_000);
const CONCURRENCY = 16;
// How long a request that may rightly be held (a stream, a blocking query:
// oracle.ts mayHold) is read before it is cut, and how long any other request
// may take before it counts as "no answer" (a hang). The latter is far above
// any answer's time: on a loaded machine (the suite runs in concurrent
// shards) a CA rotation, or a write queued behind one, can pass 2.5 s.
const HELD_MS = 2_500;
const TIMEOUT_MS = 10_000;

const CONFIG = `[plugins.authz]\nenabled = true\ndefault_policy = "allow"\naudit = false\n\n[http]\nmax_body_bytes = ${MAX_BODY_BYTES}\n`;

function describeTarget(g: Generated): string {
  const t = typeof g.req.target === "string" ? g.req.target : Buffer.from(g.req.target).toString("latin1");
  const h = g.req.headers.map(([k, v]) => `${k}: ${String(v).slice(0, 40)}`).join("; ");
  return `${g.req.method} ${JSON.stringify(t.slice(0, 160))}${h ? ` {${h}}` : ""}${g.req.body ? ` body ${g.req.body.length} B` : ""}`;
}

test(`fuzz: ${COUNT} malformed requests over every route (seed ${SEED})`, async () => {
  console.log(`fuzz seed ${SEED} (replay: CORRAL_FUZZ_SEED=${SEED} bun test test/fuzz)`);
  const node = await startCorral({ role: "dev", config: CONFIG });
  const all = await listRoutes(node.url);
  expect(all.length).toBeGreaterThan(150);
  expect(all.some((r) => r.path === "/v1/kv/{key{.*}}")).toBe(true);
  const before = (await getJson(node.url + "/v1/snapshot")).body;

  const failures: string[] = [];
  const accepted: Accepted[] = [];
  const seen = new Map<string, number>();
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < COUNT && failures.length < 20) {
      const i = next++;
      const g: Generated = generate(SEED, i, all);
      let res;
      try {
        res = await rawRequest(node.port, g.req, { timeoutMs: mayHold(g.req) ? HELD_MS : TIMEOUT_MS, maxBodyBytes: 256 * 1024 });
      } catch (err) {
        if (node.child.exitCode !== null) failures.push(`#${i} ${g.label}: the node died (exit ${node.child.exitCode})`);
        else if (!(g.req.body && g.req.body.length > MAX_BODY_BYTES)) failures.push(`#${i} ${g.label}: connection failed: ${(err as Error).message}`);
        continue;
      }
      seen.set(`${g.route.method} ${g.route.path}`, (seen.get(`${g.route.method} ${g.route.path}`) ?? 0) + 1);
      const problem = g.valid && (res.status !== 200 || res.timedOut) && g.valid !== "kv-delete" && g.valid !== "service-deregister"
        ? `a valid request was refused: ${res.status} ${res.body.toString().slice(0, 120)}`
        : judge(g.req, res);
      if (problem) failures.push(`#${i} ${g.label} [${describeTarget(g)}] → ${problem}`);
      if (res.status >= 200 && res.status < 300 && g.req.method !== "GET") accepted.push({ req: g.req, status: res.status, body: res.body.toString("utf8") });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (Date.now() - started) / 1000;
  const byRoute = new Map<string, number>();
  for (const a of accepted) {
    const t = typeof a.req.target === "string" ? a.req.target : "(raw)";
    const k = `${a.req.method} ${t.split("?")[0]!.replace(/\/fz\d+\/.*$/, "/fz*").replace(/fzs-\d+/, "fzs-*").replace(/\/valid\/\d+/, "/valid/*")}`;
    byRoute.set(k, (byRoute.get(k) ?? 0) + 1);
  }
  const top = [...byRoute].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${v} ${k}`).join(", ");
  console.log(`fuzz: ${next} requests in ${seconds.toFixed(1)} s over ${seen.size} of ${all.length} routes; ${accepted.length} writes accepted (${top})`);

  expect(node.child.exitCode).toBeNull();
  expect((await getJson(node.url + "/v1/healthz")).status).toBe(200);
  if (failures.length) console.error(`fuzz seed ${SEED}: ${failures.length} failure(s)\n  ${failures.join("\n  ")}`);
  expect(failures).toEqual([]);
  expect(next).toBeGreaterThanOrEqual(COUNT);
  expect(seen.size).toBeGreaterThan(all.length * 0.9);

  const after = (await getJson(node.url + "/v1/snapshot")).body;
  const diff = unexplained(before, after, accepted);
  if (diff.length) console.error(`fuzz seed ${SEED}: state differs from the model\n  ${diff.slice(0, 20).join("\n  ")}`);
  expect(diff).toEqual([]);
  expect(node.output()).not.toMatch(/request failed|plugin failed/);
  await node.kill();
}, 120_000);
