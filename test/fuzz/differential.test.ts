// The fuzzer's differential oracle (issue 13, point 17): reads from
// the fuzzer's generator (test/fuzz/gen.ts generateRead: every GET route,
// path parameters mostly the names of hidden things, read flags, odd and
// bogus-token headers, GET and HEAD) sent over raw sockets to two twins
// (test/fuzz/twins.ts) — one populated, one empty. Each pair of answers must
// agree (test/fuzz/differential.ts): what differs was told by hidden data.
// An answer that did not end in time (a held blocking query, a stream) is not
// compared: whether a query with ?index=N is held says how far the log has
// gone, which the oracle treats as public (see differential.ts).
// Every third request carries the narrow token of test/fuzz/twins.ts instead.
// Seeded: CORRAL_FUZZ_SEED=<n> replays a run, CORRAL_FUZZ_DIFF_COUNT=<n> sizes it.
import { afterAll, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { generateRead } from "./gen.ts";
import { rawRequest, type RawRequest, type RawResponse } from "./raw-http.ts";
import { differences, headersOf, type Observed } from "./differential.ts";
import { listRoutes } from "./routes.ts";
import { meshCaAliases, paramCandidates, reapTwins, startTwins, type Twin, type Twins } from "./twins.ts";

const SEED = Number(process.env.CORRAL_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = Number(process.env.CORRAL_FUZZ_DIFF_COUNT ?? 1_500);
const CONCURRENCY = 8;
const TIMEOUT_MS = 2_500;

let twins: Twins | undefined;
afterAll(async () => {
  reapTwins(twins);
  await killAll();
});

/** Each twin's IDs for the narrow token and its policy, as placeholders. */
const aliases = (t: Twin) => ({ [t.narrow.secret]: "<narrow-secret>", [t.narrow.accessor]: "<narrow-accessor>", [t.narrow.policyId]: "<narrow-policy>" });

function observed(r: RawResponse): Observed {
  return { status: r.status, headers: headersOf(r.headers), body: r.body.toString("utf8") };
}

test(`fuzz differential: ${COUNT} anonymous and narrow-token reads, populated node vs empty node (seed ${SEED})`, async () => {
  console.log(`fuzz differential seed ${SEED} (replay: CORRAL_FUZZ_SEED=${SEED} bun test test/fuzz/differential.test.ts)`);
  twins = await startTwins();
  const { populated, empty, state } = twins;
  const routes = await listRoutes(populated.url, populated.management);
  const facts = {
    // Each twin's mesh CA is public and per cluster, like its port (meshCaAliases).
    populated: { port: populated.port, dataDir: populated.dataDir, aliases: { ...aliases(populated), ...(await meshCaAliases(populated)) } },
    empty: { port: empty.port, dataDir: empty.dataDir, aliases: { ...aliases(empty), ...(await meshCaAliases(empty)) } },
    window: { baseline: state.baselineIndex, fence: state.fenceIndex },
    secrets: state.secrets,
  };
  const names = (param: string) => paramCandidates(state, param);

  const failures: string[] = [];
  let next = 0;
  let compared = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < COUNT && failures.length < 30) {
      const i = next++;
      const g = generateRead(SEED, i, routes, names);
      // Every third request as the narrow token instead (each twin's own secret for the same policy).
      const narrow = i % 3 === 2;
      const as = (secret: string): RawRequest => (narrow ? { ...g.req, headers: [...g.req.headers.filter(([k]) => !/token|authorization/i.test(k)), ["X-Consul-Token", secret]] } : g.req);
      let p: RawResponse, e: RawResponse;
      try {
        [p, e] = await Promise.all([
          rawRequest(populated.port, as(populated.narrow.secret), { timeoutMs: TIMEOUT_MS, maxBodyBytes: 256 * 1024 }),
          rawRequest(empty.port, as(empty.narrow.secret), { timeoutMs: TIMEOUT_MS, maxBodyBytes: 256 * 1024 }),
        ]);
      } catch (err) {
        failures.push(`#${i} ${g.label}: connection failed: ${(err as Error).message}`);
        continue;
      }
      if (p.timedOut || e.timedOut) continue;
      compared++;
      const target = typeof g.req.target === "string" ? g.req.target : Buffer.from(g.req.target).toString("latin1");
      const diff = differences(observed(p), observed(e), facts);
      const hdrs = g.req.headers.map(([k, v]) => `${k}: ${String(v).slice(0, 30)}`).join("; ");
      if (diff.length) failures.push(`#${i}${narrow ? " (narrow token)" : ""} ${g.req.method} ${target.slice(0, 160)}${hdrs ? ` {${hdrs}}` : ""}\n      ${diff.slice(0, 4).join("\n      ")}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  console.log(`fuzz differential: ${next} requests (${compared} compared) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length) console.error(`fuzz differential seed ${SEED}: ${failures.length} failure(s) (stops at 30)\n  ${failures.join("\n  ")}`);
  expect(failures).toEqual([]);
  expect(compared).toBeGreaterThan(COUNT * 0.8);
}, 120_000);
