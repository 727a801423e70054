// A process hosting many simulated agents (sim-agent.ts) for the scale
// harness. Started by bench/scale.ts with its settings as one JSON argument;
// talks to it in JSON lines: events on stdout, commands on stdin.
//
// stdout: {"t":"joined","n":N,"synced":M,"intervalMs":H} how many of its agents are joined and have their catalog
//                                              sync applied, and the heartbeat interval in use (on change, ≤ 4/s)
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
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet } as unknown as Logger;
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
  if (`${n}/${synced}` !== last) out({ t: "joined", n, synced, intervalMs: agents[0]?.member.intervalMs() });
  last = `${n}/${synced}`;
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

async function watcher(agent: SimAgent, kind: "health" | "catalog", service: string): Promise<void> {
  const path = kind === "health" ? `/v1/health/service/${service}` : "/v1/catalog/services";
  const first = await agent.forward(path, stopper.signal);
  let index = Number(first.headers.get("x-consul-index") ?? 0);
  await first.arrayBuffer();
  let counted = false;
  while (!stopper.signal.aborted) {
    const p = agent.forward(`${path}?index=${index}&wait=10m`, stopper.signal);
    if (!counted) {
      counted = true;
      // The request is on its way; the leader holds it once it arrives (ready is a lower bound).
      if (++holding === wanted) setTimeout(() => out({ t: "ready" }), 500);
    }
    const res = await p;
    const body = await res.text();
    const next = Number(res.headers.get("x-consul-index") ?? 0);
    if (next === index) continue;
    index = next;
    const ok = res.ok && body.includes(CHANGE_MARK);
    woke.push([kind, Date.now(), ok]);
  }
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const m = JSON.parse(line) as Record<string, any>;
  if (m.cmd === "watch") {
    wanted += m.count;
    for (let k = 0; k < m.count; k++) void watcher(agents[k % agents.length]!, m.kind, m.service).catch(() => undefined);
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
