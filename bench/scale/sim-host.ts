// A process hosting many simulated agents (sim-agent.ts) for the scale
// harness. Started by bench/scale.ts with its settings as one JSON argument;
// talks to it in JSON lines: events on stdout, commands on stdin.
//
// stdout: {"t":"joined","n":N,"synced":M,"intervalMs":H,"failed":{…},"joins":{…}} how many of its agents are
//                                              joined and have their catalog sync applied, the heartbeat interval
//                                              in use, the agents' logged failures by message, and their join
//                                              attempts (sent, refused with 429, timed out, failed otherwise;
//                                              on change, ≤ 4/s)
//         {"t":"running","r":[[alloc,job,at]…]} allocations acknowledged running (batched, 5/s)
//         {"t":"woke","r":[[kind,at,ok]…]}      watchers whose blocking query returned after the change
//         {"t":"ready"}                        every watcher asked for is holding its query
// stdin:  {"cmd":"watch","kind":"health"|"catalog","count":N,"service":S}
//         {"cmd":"check","agent":I,"service":K,"status":"passing"|"critical"}
//         {"cmd":"register","agent":I,"name":S,"tag":T}   one more instance, tagged
// A watcher counts as having seen the change when its answer holds CHANGE_MARK.
//         {"cmd":"replace","agents":[I…]}  these agents leave for good; new ones (new ids) take their places
//         {"cmd":"stop"}
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { SimAgent } from "./sim-agent.ts";
import type { Logger } from "../../core/log.ts";

interface HostSettings {
  from: number;
  to: number;
  ids: string[];
  leaders: string[];
  secret: string;
  services: number;
  serviceNames: number;
  heartbeatMs: number;
  watchAllocs: boolean;
}

const s = JSON.parse(process.argv[2]!) as HostSettings;
// Agents' warnings and errors are tallied (message and error code), not printed: 10,000 agents'
// failed joins would flood the harness. The tally goes out with the "joined" events and, with
// SIM_LOG=1, to stderr, so a run that stalls says why (a join answered 503, a timed-out forward).
const failures = new Map<string, number>();
const tally = (msg: string, fields?: Record<string, unknown>) => {
  const err = fields?.err as { code?: unknown; status?: unknown; message?: unknown } | undefined;
  const key = `${msg}: ${String(err?.status ?? "")} ${String(err?.code ?? err?.message ?? "")}`.slice(0, 160);
  failures.set(key, (failures.get(key) ?? 0) + 1);
};
const quiet: Logger = { debug() {}, info() {}, warn: tally, error: tally, child: () => quiet } as unknown as Logger;
const out = (msg: unknown) => process.stdout.write(JSON.stringify(msg) + "\n");

let running: [string, string, number][] = [];
const agents: SimAgent[] = [];
const makeAgent = (i: number, id: string) =>
  new SimAgent({
    index: i, id, leaders: s.leaders, secret: s.secret, services: s.services, serviceNames: s.serviceNames,
    heartbeatMs: s.heartbeatMs, log: quiet, onRunning: (alloc, job, at) => void running.push([alloc, job, at]),
  });
for (let i = s.from; i < s.to; i++) agents.push(makeAgent(i, s.ids[i - s.from]!));
// Start spread over a second, as agents on real hosts would not all boot in one tick.
agents.forEach((a, k) => setTimeout(() => a.start(s.watchAllocs), Math.floor((k / agents.length) * 1000)));

let last = "";
setInterval(() => {
  const n = agents.filter((a) => a.member.isJoined()).length;
  const synced = agents.filter((a) => a.sync.stats.written + a.sync.stats.skipped > 0 && !a.sync.isDue()).length;
  const failed = Object.fromEntries(failures);
  // Every join attempt and how it failed (the agents log only some of their failures).
  const joins = { attempts: 0, refused: 0, timedOut: 0, failed: 0 };
  for (const a of agents) for (const k of Object.keys(joins) as (keyof typeof joins)[]) joins[k] += a.member.joinStats[k];
  const now = `${n}/${synced}/${JSON.stringify(failed)}/${JSON.stringify(joins)}`;
  if (now !== last) {
    out({ t: "joined", n, synced, intervalMs: agents[0]?.member.intervalMs(), failed, joins });
    if (process.env.SIM_LOG === "1" && failures.size > 0) console.error(`sim-host ${s.from}-${s.to}: ${n} joined, ${synced} synced, failures ${JSON.stringify(failed)}`);
  }
  last = now;
}, 250);
setInterval(() => {
  if (running.length === 0) return;
  out({ t: "running", r: running });
  running = [];
}, 200);

// Watchers: blocking queries through the agents (node-signed, as a local
// client's read through its agent reaches a leader). Each holds its query,
// and reports when one returns with a new index.
let woke: [string, number, boolean][] = [];
setInterval(() => {
  if (woke.length === 0) return;
  out({ t: "woke", r: woke });
  woke = [];
}, 100);
const CHANGE_MARK = "scale-change";
let holding = 0;
let wanted = 0;
const stopper = new AbortController();

/**
 * One watcher, as a real client's watch loop (core/plugins/blocking-watch.ts watchLoop): a failed
 * query is retried with backoff from index 0, so a refused connection in the opening burst costs a
 * retry, not the watcher.
 */
async function watcher(agent: SimAgent, kind: "health" | "catalog", service: string): Promise<void> {
  const path = kind === "health" ? `/v1/health/service/${service}` : "/v1/catalog/services";
  let counted = false;
  let seen = false;
  let failures = 0;
  let index = 0;
  while (!stopper.signal.aborted) {
    try {
      if (index === 0) {
        const first = await agent.forward(path, stopper.signal);
        const body = await first.text();
        if (!first.ok) throw Object.assign(new Error(body.slice(0, 80)), { status: first.status });
        index = Number(first.headers.get("x-consul-index") ?? 0);
        // Asking again after a failure, past the change: this answer is the one that shows it.
        if (failures > 0 && !seen && body.includes(CHANGE_MARK)) {
          seen = true;
          woke.push([kind, Date.now(), true]);
        }
      }
      const p = agent.forward(`${path}?index=${index}&wait=10m`, stopper.signal);
      if (!counted) {
        counted = true;
        // The request is on its way; the leader holds it once it arrives (ready is a lower bound).
        if (++holding === wanted) setTimeout(() => out({ t: "ready" }), 500);
      }
      const res = await p;
      const body = await res.text();
      if (!res.ok) throw Object.assign(new Error(body.slice(0, 80)), { status: res.status });
      failures = 0;
      const next = Number(res.headers.get("x-consul-index") ?? 0);
      if (next === index) continue;
      index = next;
      const ok = body.includes(CHANGE_MARK);
      // Each watcher reports every index move until it has seen the change, then that one only:
      // a move without the change is another write (the harness counts it apart, not as fan-out).
      if (seen) continue;
      seen = ok;
      woke.push([kind, Date.now(), ok]);
    } catch (err) {
      if (stopper.signal.aborted) return;
      tally(`watcher ${kind} failed`, { err });
      index = 0;
      await new Promise((r) => setTimeout(r, Math.min(15_000, 250 * 2 ** failures++)));
    }
  }
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const m = JSON.parse(line) as Record<string, any>;
  if (m.cmd === "watch") {
    wanted += m.count;
    for (let k = 0; k < m.count; k++) void watcher(agents[k % agents.length]!, m.kind, m.service);
  } else if (m.cmd === "check") {
    void agents[m.agent - s.from]?.setCheck(m.service, m.status);
  } else if (m.cmd === "register") {
    void agents[m.agent - s.from]?.addService(m.name, m.tag);
  } else if (m.cmd === "replace") {
    for (const i of m.agents as number[]) {
      const k = i - s.from;
      if (!agents[k]) continue;
      agents[k].stop();
      agents[k] = makeAgent(i, randomUUID());
      agents[k].start(s.watchAllocs);
    }
  } else if (m.cmd === "stop") {
    stopper.abort();
    for (const a of agents) a.stop();
    setTimeout(() => process.exit(0), 100);
  }
});
