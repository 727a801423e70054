// Jepsen-style fault test on real processes: concurrent clients write unique
// values, compare-and-set and read (?consistent) KV keys through random
// nodes while the test kills -9 leaders, restarts them and cuts nodes off
// from their peers. Afterwards: every acknowledged write is visible or was
// overwritten in a linearizable order — the whole history is checked by
// test/lincheck (WGL search). CORRAL_HISTORY=FILE saves the history as JSON
// lines for an outside checker.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { TestCluster } from "../helpers/cluster.ts";
import { sleep } from "../helpers/proc.ts";
import { checkHistory, type HistoryEvent } from "../lincheck/index.ts";

const ELECTION_MS = 500;
const RUN_MS = Number(process.env.CORRAL_FAULT_MS ?? 15_000);
const CLIENTS = 5;
const KEYS = 6;
const OP_TIMEOUT_MS = 3000;

let c: TestCluster;
afterAll(() => c?.stop());

type Outcome = { type: "ok" | "fail" | "info"; value?: unknown };

class History {
  events: HistoryEvent[] = [];
  private t0 = process.hrtime.bigint();
  now(): number {
    return Number(process.hrtime.bigint() - this.t0);
  }
  add(e: Omit<HistoryEvent, "time">) {
    this.events.push({ ...e, time: this.now() });
  }
}

async function timed(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(OP_TIMEOUT_MS) });
}

/** A consistent read: value (null when absent) and ModifyIndex. */
async function read(url: string, key: string): Promise<{ value: string | null; index: number } | undefined> {
  const r = await timed(`${url}/v1/kv/${key}?consistent`);
  if (r.status === 404) return { value: null, index: 0 };
  if (r.status !== 200) return undefined;
  const [e] = (await r.json()) as { Value: string; ModifyIndex: number }[];
  return { value: Buffer.from(e!.Value, "base64").toString(), index: e!.ModifyIndex };
}

async function client(proc: number, h: History, stopAt: number) {
  let seq = 0;
  while (Date.now() < stopAt) {
    const nodes = c.nodes.filter((n) => n.proc);
    const node = nodes[Math.floor(Math.random() * nodes.length)];
    if (!node) {
      await sleep(20);
      continue;
    }
    const key = `k${Math.floor(Math.random() * KEYS)}`;
    const dice = Math.random();
    if (dice < 0.4) {
      const value = `p${proc}-${seq++}`;
      h.add({ process: proc, type: "invoke", f: "write", key, value });
      const out = await attempt(async (): Promise<Outcome> => {
        const r = await timed(`${node.url}/v1/kv/${key}`, { method: "PUT", body: value });
        if (r.status === 200) return (await r.json()) === true ? { type: "ok" } : { type: "fail" };
        return r.status < 500 ? { type: "fail" } : { type: "info" };
      });
      h.add({ process: proc, type: out.type, f: "write", key, value });
    } else if (dice < 0.75) {
      h.add({ process: proc, type: "invoke", f: "read", key, value: null });
      const out = await attempt(async (): Promise<Outcome> => {
        const r = await read(node.url, key);
        return r ? { type: "ok", value: r.value } : { type: "fail" };
      });
      // A failed read changed nothing: "fail" is exact for reads.
      h.add({ process: proc, type: out.type === "info" ? "fail" : out.type, f: "read", key, value: out.value ?? null });
    } else {
      // CAS by ModifyIndex, recorded as a CAS on values (values are unique,
      // so "index unchanged since the read" means "value still as read").
      const next = `p${proc}-${seq++}`;
      const invokeTime = h.now();
      const seen = await read(node.url, key).catch(() => undefined);
      if (!seen || seen.value === null) continue;
      h.events.push({ process: proc, type: "invoke", f: "cas", key, value: [seen.value, next], time: invokeTime });
      const out = await attempt(async (): Promise<Outcome> => {
        const r = await timed(`${node.url}/v1/kv/${key}?cas=${seen.index}`, { method: "PUT", body: next });
        if (r.status === 200) return (await r.json()) === true ? { type: "ok" } : { type: "fail" };
        return r.status < 500 ? { type: "fail" } : { type: "info" };
      });
      h.add({ process: proc, type: out.type, f: "cas", key, value: [seen.value, next] });
    }
  }
}

/** Network errors and timeouts: the outcome is unknown. */
async function attempt(fn: () => Promise<Outcome>): Promise<Outcome> {
  try {
    return await fn();
  } catch {
    return { type: "info" };
  }
}

async function nemesis(stopAt: number, log: string[]) {
  let round = 0;
  while (Date.now() < stopAt - 2000) {
    await sleep(1500);
    const leader = await c.leader();
    if (round % 2 === 0 && leader >= 0) {
      log.push(`kill -9 leader ${leader}`);
      await c.kill(leader);
      await sleep(1200);
      await c.startNode(leader);
    } else {
      const victim = leader >= 0 ? leader : round % c.nodes.length;
      log.push(`isolate ${victim}`);
      c.isolate(victim);
      await sleep(2000);
      c.heal();
    }
    round++;
  }
}

describe("fault injection with a linearizability check", () => {
  test("kill -9, restarts and partitions lose no acknowledged write and stay linearizable", async () => {
    c = new TestCluster({ size: 3, electionTimeoutMs: ELECTION_MS, heartbeatMs: 50, snapshotThreshold: 200 });
    await c.start();
    await c.waitLeader();
    const h = new History();
    const nemesisLog: string[] = [];
    const stopAt = Date.now() + RUN_MS;
    await Promise.all([...Array.from({ length: CLIENTS }, (_, p) => client(p, h, stopAt)), nemesis(stopAt, nemesisLog)]);

    // Heal, then read every key once more through the leader: the final state.
    c.heal();
    for (const n of c.nodes) if (!n.proc) await c.startNode(n.index);
    const leader = c.nodes[await c.waitLeader()]!;
    for (let k = 0; k < KEYS; k++) {
      h.add({ process: 1000, type: "invoke", f: "read", key: `k${k}`, value: null });
      const r = await read(leader.url, `k${k}`);
      h.add({ process: 1000, type: r ? "ok" : "fail", f: "read", key: `k${k}`, value: r?.value ?? null });
    }
    if (process.env.CORRAL_HISTORY) writeFileSync(process.env.CORRAL_HISTORY, h.events.map((e) => JSON.stringify(e)).join("\n") + "\n");

    const count = (type: string, f?: string) => h.events.filter((e) => e.type === type && (!f || e.f === f)).length;
    console.log(
      `faults: ${nemesisLog.join(", ")}\n` +
        `ops: ${count("invoke")} invoked; writes ok ${count("ok", "write")}, cas ok ${count("ok", "cas")}, reads ok ${count("ok", "read")}, ` +
        `fail ${count("fail")}, info ${count("info")}`,
    );
    expect(nemesisLog.length).toBeGreaterThanOrEqual(2);
    expect(count("ok", "write")).toBeGreaterThan(100);

    const result = checkHistory(h.events);
    if (!result.ok) console.log(JSON.stringify(result.counterexample, null, 2));
    expect(result.perKey.every((k) => k.verdict === "linearizable")).toBe(true);
    expect(result.ok).toBe(true);
  }, RUN_MS + 60_000);
});
