// A Jepsen-style run on real processes, shared by the bounded fault test
// (faults.test.ts, part of `npm test`) and the longer campaign (campaign.ts).
//
// Clients write unique values, compare-and-set and read a few KV keys through
// random nodes (paused ones included, as a client cannot know), reading in
// the default mode or with ?consistent. A nemesis meanwhile kills -9 the
// leader or a random member, SIGSTOPs the leader, a follower or two members at
// once (shorter and longer than an election timeout), and cuts a node off;
// the log is compacted every few dozen entries, so restarted nodes catch up
// from snapshots. The history is judged by test/lincheck three ways: whole,
// with only the default-mode reads, with only the ?consistent ones.
//
// Outcomes as a client must read them: 2xx is ok, a 4xx or `false` failed, a
// 5xx failed only when it says `X-Corral-Outcome: not-applied`, anything else
// (another 5xx, a timeout, a lost connection) is "info": unknown.
import { TestCluster } from "../helpers/cluster.ts";
import { sleep } from "../helpers/proc.ts";
import { checkHistory, type HistoryEvent } from "../lincheck/index.ts";
import type { KeyVerdict } from "../lincheck/types.ts";

export type ReadMode = "default" | "consistent";
type Event = HistoryEvent & { mode?: ReadMode };
/** `why`: for "info", what made the outcome unknown (a 5xx code, "timeout", "connection lost"). */
type Outcome = { type: "ok" | "fail" | "info"; value?: unknown; why?: string };

export type NemesisKind = "kill-leader" | "kill-random" | "pause-leader" | "pause-follower" | "pause-two" | "isolate";
export const NEMESIS_KINDS: NemesisKind[] = ["pause-leader", "kill-random", "pause-two", "isolate", "pause-follower", "kill-leader"];

export interface RunOptions {
  runMs: number;
  clients?: number;
  keys?: number;
  electionMs?: number;
  heartbeatMs?: number;
  snapshotThreshold?: number;
  /** Per-operation client timeout: longer than any pause, so a paused node's answer still counts. */
  opTimeoutMs?: number;
  /** Seeds the choice of victims and fault durations (the workload itself is Math.random). */
  seed?: number;
}

export interface Verdicts {
  all: KeyVerdict | "linearizable";
  default: KeyVerdict | "linearizable";
  consistent: KeyVerdict | "linearizable";
}

export interface RunReport {
  ops: number;
  writes: number;
  writesOk: number;
  /** Writes and CAS with an unknown outcome. */
  info: number;
  /** What made them unknown, counted. */
  infoWhy: Record<string, number>;
  infoFraction: number;
  reads: { default: number; consistent: number };
  /** probes: paused leaders read from after their successor acknowledged a write. */
  faults: { kills: number; pauses: number; isolations: number; probes: number; log: string[] };
  verdicts: Verdicts;
  counterexample?: unknown;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class History {
  events: Event[] = [];
  private t0 = process.hrtime.bigint();
  now(): number {
    return Number(process.hrtime.bigint() - this.t0);
  }
  add(e: Omit<Event, "time">) {
    this.events.push({ ...e, time: this.now() } as Event);
  }
}

/** A failed write's outcome as the node states it. */
function writeOutcome(r: Response, body: unknown): Outcome {
  if (r.status === 200) return body === true ? { type: "ok" } : { type: "fail" };
  if (r.status < 500) return { type: "fail" };
  if (r.headers.get("X-Corral-Outcome") === "not-applied") return { type: "fail" };
  const code = (body as { code?: string } | undefined)?.code;
  return { type: "info", why: `${r.status}${code ? " " + code : ""}` };
}

export async function jepsenRun(opts: RunOptions): Promise<RunReport> {
  const clients = opts.clients ?? 5;
  const keys = opts.keys ?? 6;
  const opTimeoutMs = opts.opTimeoutMs ?? 8000;
  const rng = mulberry32(opts.seed ?? Date.now());
  // raft.sync = "full", as shipped: the leader then syncs its entries off the event loop (raft.leader_fsync = "parallel").
  const c = new TestCluster({ size: 3, sync: "full", electionTimeoutMs: opts.electionMs ?? 500, heartbeatMs: opts.heartbeatMs ?? 50, snapshotThreshold: opts.snapshotThreshold ?? 64 });
  const paused = new Set<number>();
  try {
    await c.start();
    await c.waitLeader(30_000);
    const h = new History();
    const faults = { kills: 0, pauses: 0, isolations: 0, probes: 0, log: [] as string[] };
    const infoWhy: Record<string, number> = {};
    const timed = (url: string, init: RequestInit = {}) => fetch(url, { ...init, signal: AbortSignal.timeout(opTimeoutMs) });

    const read = async (url: string, key: string, mode: ReadMode): Promise<{ value: string | null; index: number } | undefined> => {
      const r = await timed(`${url}/v1/kv/${key}${mode === "consistent" ? "?consistent" : ""}`);
      if (r.status === 404) return { value: null, index: 0 };
      if (r.status !== 200) return undefined;
      const [e] = (await r.json()) as { Value: string; ModifyIndex: number }[];
      return { value: Buffer.from(e!.Value, "base64").toString(), index: e!.ModifyIndex };
    };

    const attempt = async (fn: () => Promise<Outcome>): Promise<Outcome> => {
      try {
        return await fn();
      } catch (err) {
        // Timeout or lost connection: unknown.
        return { type: "info", why: (err as Error)?.name === "TimeoutError" ? "client timeout" : "connection lost" };
      }
    };

    const client = async (proc: number, stopAt: number) => {
      let seq = 0;
      while (Date.now() < stopAt) {
        const nodes = c.nodes.filter((n) => n.proc);
        const node = nodes[Math.floor(Math.random() * nodes.length)];
        if (!node) {
          await sleep(20);
          continue;
        }
        const key = `k${Math.floor(Math.random() * keys)}`;
        const dice = Math.random();
        if (dice < 0.4) {
          const value = `p${proc}-${seq++}`;
          h.add({ process: proc, type: "invoke", f: "write", key, value });
          const out = await attempt(async () => {
            const r = await timed(`${node.url}/v1/kv/${key}`, { method: "PUT", body: value });
            return writeOutcome(r, await r.json().catch(() => undefined));
          });
          if (out.why) infoWhy[out.why] = (infoWhy[out.why] ?? 0) + 1;
          h.add({ process: proc, type: out.type, f: "write", key, value });
        } else if (dice < 0.8) {
          const mode: ReadMode = Math.random() < 0.5 ? "default" : "consistent";
          h.add({ process: proc, type: "invoke", f: "read", key, value: null, mode });
          const out = await attempt(async (): Promise<Outcome> => {
            const r = await read(node.url, key, mode);
            return r ? { type: "ok", value: r.value } : { type: "fail" };
          });
          // A read changes nothing: a failed or lost one is simply "fail".
          h.add({ process: proc, type: out.type === "ok" ? "ok" : "fail", f: "read", key, value: out.value ?? null, mode });
        } else {
          // CAS by ModifyIndex, recorded as a CAS on values (values are unique).
          const next = `p${proc}-${seq++}`;
          const invokeTime = h.now();
          const seen = await read(node.url, key, "consistent").catch(() => undefined);
          if (!seen || seen.value === null) continue;
          h.events.push({ process: proc, type: "invoke", f: "cas", key, value: [seen.value, next], time: invokeTime });
          const out = await attempt(async () => {
            const r = await timed(`${node.url}/v1/kv/${key}?cas=${seen.index}`, { method: "PUT", body: next });
            return writeOutcome(r, await r.json().catch(() => undefined));
          });
          if (out.why) infoWhy[out.why] = (infoWhy[out.why] ?? 0) + 1;
          h.add({ process: proc, type: out.type, f: "cas", key, value: [seen.value, next] });
        }
      }
    };

    const between = (lo: number, hi: number) => Math.round(lo + rng() * (hi - lo));
    const pick = <T>(xs: T[]): T => xs[Math.floor(rng() * xs.length)]!;
    const stop = (i: number) => (c.nodes[i]!.proc!.child.kill("SIGSTOP"), paused.add(i));
    const cont = (i: number) => (c.nodes[i]!.proc?.child.kill("SIGCONT"), paused.delete(i));

    /** The node (other than `paused`) that says it leads, asked until `until`. */
    const otherLeader = async (paused: number, until: number): Promise<number | undefined> => {
      while (Date.now() < until) {
        for (const n of c.nodes) {
          if (n.index === paused || !n.proc) continue;
          try {
            const r = await fetch(n.url + "/v1/operator/raft", { signal: AbortSignal.timeout(300) });
            if (r.ok && ((await r.json()) as { role: string }).role === "leader") return n.index;
          } catch {
            // slow or down
          }
        }
        await sleep(20);
      }
      return undefined;
    };

    /**
     * A write through the new leader, then a default and a ?consistent read
     * sent to the paused ex-leader; returns once those reads are answered
     * (after resume). Recorded in the history like any client's operations.
     */
    const probePausedLeader = async (paused: number, resumeAt: number, round: number): Promise<Promise<void> | undefined> => {
      const l2 = await otherLeader(paused, resumeAt - 300);
      if (l2 === undefined) return undefined;
      const key = `k${round % keys}`;
      const value = `probe-${round}`;
      const proc = 2000 + 10 * round;
      h.add({ process: proc, type: "invoke", f: "write", key, value });
      const out = await attempt(async () => {
        const r = await timed(`${c.nodes[l2]!.url}/v1/kv/${key}`, { method: "PUT", body: value });
        return writeOutcome(r, await r.json().catch(() => undefined));
      });
      if (out.why) infoWhy[out.why] = (infoWhy[out.why] ?? 0) + 1;
      h.add({ process: proc, type: out.type, f: "write", key, value });
      if (out.type !== "ok" || Date.now() > resumeAt - 50) return undefined;
      faults.probes++;
      const url = c.nodes[paused]!.url;
      const reads = (["default", "consistent"] as const).map(async (mode, i) => {
        h.add({ process: proc + 1 + i, type: "invoke", f: "read", key, value: null, mode });
        const r = await read(url, key, mode).catch(() => undefined);
        h.add({ process: proc + 1 + i, type: r ? "ok" : "fail", f: "read", key, value: r?.value ?? null, mode });
      });
      return Promise.all(reads).then(() => undefined);
    };

    const nemesis = async (stopAt: number) => {
      // Every kind in turn, from a seeded starting point: a short run still sees most of them.
      let round = Math.floor(rng() * NEMESIS_KINDS.length);
      while (Date.now() < stopAt - 3000) {
        await sleep(between(600, 1500));
        const kind = NEMESIS_KINDS[round % NEMESIS_KINDS.length]!;
        round++;
        const leader = await c.leader();
        const all = c.nodes.map((n) => n.index);
        const followers = all.filter((i) => i !== leader);
        // Pauses both shorter and longer than an election timeout; a paused
        // leader long enough for a successor to be elected and to write.
        const electionMs = opts.electionMs ?? 500;
        const pauseMs = kind === "pause-leader" ? between(3 * electionMs, 6 * electionMs) : between(200, 5 * electionMs);
        switch (kind) {
          case "kill-leader":
          case "kill-random": {
            const v = kind === "kill-leader" && leader >= 0 ? leader : pick(all);
            faults.kills++;
            faults.log.push(`${kind} ${v}`);
            await c.kill(v);
            await sleep(between(200, 1500));
            await c.startNode(v);
            break;
          }
          case "pause-leader":
          case "pause-follower": {
            const v = kind === "pause-leader" && leader >= 0 ? leader : pick(followers);
            faults.pauses++;
            faults.log.push(`${kind} ${v} ${pauseMs}ms`);
            stop(v);
            const resumeAt = Date.now() + pauseMs;
            // The Jepsen finding, aimed at: while the leader is paused, write through
            // its successor, then read from the paused node; it answers on resume.
            // (Left to chance, every client soon blocks on the paused node and
            // nobody writes through the new leader meanwhile.)
            const probe = kind === "pause-leader" ? await probePausedLeader(v, resumeAt, round) : undefined;
            await sleep(Math.max(0, resumeAt - Date.now()));
            cont(v);
            await probe;
            break;
          }
          case "pause-two": {
            const a = pick(all);
            const b = pick(all.filter((i) => i !== a));
            faults.pauses += 2;
            faults.log.push(`pause-two ${a},${b} ${pauseMs}ms`);
            stop(a);
            stop(b);
            await sleep(pauseMs);
            cont(a);
            cont(b);
            break;
          }
          case "isolate": {
            const v = leader >= 0 && rng() < 0.5 ? leader : pick(all);
            faults.isolations++;
            faults.log.push(`isolate ${v}`);
            c.isolate(v);
            await sleep(between(500, 2000));
            c.heal();
            break;
          }
        }
      }
    };

    const stopAt = Date.now() + opts.runMs;
    await Promise.all([...Array.from({ length: clients }, (_, p) => client(p, stopAt)), nemesis(stopAt)]);

    // Heal, then read every key once more through the leader: the final state.
    for (const i of [...paused]) cont(i);
    c.heal();
    for (const n of c.nodes) if (!n.proc) await c.startNode(n.index);
    const leader = c.nodes[await c.waitLeader(30_000)]!;
    for (let k = 0; k < keys; k++) {
      h.add({ process: 1000, type: "invoke", f: "read", key: `k${k}`, value: null, mode: "consistent" });
      const r = await read(leader.url, `k${k}`, "consistent").catch(() => undefined);
      h.add({ process: 1000, type: r ? "ok" : "fail", f: "read", key: `k${k}`, value: r?.value ?? null, mode: "consistent" });
    }
    return { ...judge(h.events, faults), infoWhy };
  } finally {
    for (const i of [...paused]) c.nodes[i]!.proc?.child.kill("SIGCONT");
    await c.stop();
  }
}

/** Counts and the three verdicts of one history. */
export function judge(events: Event[], faults: RunReport["faults"]): Omit<RunReport, "infoWhy"> {
  const count = (type: string, f?: string, mode?: ReadMode) => events.filter((e) => e.type === type && (!f || e.f === f) && (!mode || e.mode === mode)).length;
  const verdict = (evs: Event[]) => {
    const r = checkHistory(evs);
    return { verdict: (r.ok ? "linearizable" : r.perKey.find((k) => !k.ok)?.verdict ?? "not-linearizable") as KeyVerdict, counterexample: r.counterexample };
  };
  const all = verdict(events);
  const onlyMode = (mode: ReadMode) => events.filter((e) => e.f !== "read" || e.mode === mode || e.process === 1000);
  const writes = count("invoke", "write") + count("invoke", "cas");
  const info = count("info", "write") + count("info", "cas");
  return {
    ops: count("invoke"),
    writes,
    writesOk: count("ok", "write") + count("ok", "cas"),
    info,
    infoFraction: writes ? info / writes : 0,
    reads: { default: count("ok", "read", "default"), consistent: count("ok", "read", "consistent") },
    faults,
    verdicts: { all: all.verdict, default: verdict(onlyMode("default")).verdict, consistent: verdict(onlyMode("consistent")).verdict },
    counterexample: all.counterexample,
  };
}
