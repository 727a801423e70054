// Lock safety under faults, on 3 real leader-role processes: contenders
// create TTL sessions, acquire one key, renew, write under the lock and
// release, through random nodes, while the nemesis kills -9 and restarts
// leaders and cuts them off from their peers. From the recorded history:
//
// - never two holders at once: each holder's interval runs from its
//   acquire's acknowledgement to the earliest of its release request, the
//   moment it learned the lock was lost, and its last acknowledged
//   renewal's start + TTL (how long Consul's contract lets a holder trust a
//   session it cannot renew); no two intervals of different holds overlap;
// - the writes made under the lock are fenced (a txn whose first op is
//   check-session on the lock key) and the register they write, read with
//   ?consistent, is checked by the linearizability checker (test/lincheck).
//
// Half the contenders take the lock with corral's waiting acquire
// (`?acquire=&wait=`: a release hands the key to the first waiter in the
// same log entry), the others with Consul's try-and-retry.
//
// CORRAL_LOCK_FAULT_MS sets the run length (default 20 s).
import { afterAll, describe, expect, test } from "bun:test";
import { TestCluster } from "../helpers/cluster.ts";
import { sleep } from "../helpers/proc.ts";
import { checkHistory, type HistoryEvent } from "../lincheck/index.ts";

const RUN_MS = Number(process.env.CORRAL_LOCK_FAULT_MS ?? 20_000);
const CONTENDERS = 4;
const TTL_MS = 1000;
const OP_TIMEOUT_MS = 1500;
const LOCK = "locks/leader";
const GUARDED = "locks/guarded";

let c: TestCluster;
afterAll(() => c?.stop());

const t0 = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - t0) / 1e6; // ms, one clock for every contender

interface Hold {
  proc: number;
  session: string;
  lockIndex: number;
  start: number;
  end: number;
  why: string;
}

const J = { "content-type": "application/json" };
async function call(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(OP_TIMEOUT_MS) });
}
const pick = () => {
  const up = c.nodes.filter((n) => n.proc);
  return up[Math.floor(Math.random() * up.length)];
};

async function contender(proc: number, stopAt: number, holds: Hold[], history: HistoryEvent[], stats: { renewFail: number; fenced: number }) {
  let seq = 0;
  let session: string | undefined;
  let lastRenew = -Infinity; // start time of the last acknowledged renewal (or create)
  while (now() < stopAt) {
    const node = pick();
    if (!node) {
      await sleep(50);
      continue;
    }
    try {
      if (!session || now() > lastRenew + TTL_MS) {
        // No session we can trust: start over with a fresh one.
        const t = now();
        const r = await call(`${node.url}/v1/session/create`, { method: "PUT", headers: J, body: JSON.stringify({ Name: `c${proc}`, TTL: `${TTL_MS}ms`, LockDelay: "1s" }) });
        if (r.status !== 200) {
          await sleep(100);
          continue;
        }
        session = ((await r.json()) as { ID: string }).ID;
        lastRenew = t;
      }
      // Odd contenders use the waiting acquire (a release hands the key over in its own entry), even ones Consul's try-and-retry.
      const wait = proc % 2 === 1 ? "&wait=400ms" : "";
      const r = await call(`${node.url}/v1/kv/${LOCK}?acquire=${session}${wait}`, { method: "PUT", body: `c${proc}` });
      const acked = now();
      if (r.status !== 200 || (await r.json()) !== true) {
        // Not ours (or unknown): keep the session alive and retry a little later.
        const t = now();
        const rr = await call(`${node.url}/v1/session/renew/${session}`, { method: "PUT" }).catch(() => undefined);
        if (rr?.status === 200) lastRenew = t;
        else if (rr?.status === 404) session = undefined;
        await sleep(50 + Math.random() * 150);
        continue;
      }
      if (acked > lastRenew + TTL_MS) continue; // the acquire came back after our trust in the session ran out
      const lockIndex = await lockIndexOf(node.url, session);
      const hold: Hold = { proc, session, lockIndex, start: acked, end: 0, why: "" };
      const holdFor = 300 + Math.random() * 1200;
      // Hold: renew, and write under the lock (fenced by check-session).
      while (now() < acked + holdFor && now() < stopAt) {
        const n = pick() ?? node;
        const t = now();
        if (t > lastRenew + TTL_MS) break;
        const rr = await call(`${n.url}/v1/session/renew/${session}`, { method: "PUT" }).catch(() => undefined);
        if (rr?.status === 200) lastRenew = t;
        else if (rr?.status === 404) {
          hold.end = now();
          hold.why = "renew 404";
          break;
        } else stats.renewFail++;
        await fencedWrite(n.url, proc, session, `c${proc}-${seq++}`, history, stats);
        await sleep(100);
      }
      if (!hold.end) {
        // Release: the hold ends when we send it, or earlier if our trust ran out.
        const sent = now();
        hold.end = Math.min(sent, lastRenew + TTL_MS);
        hold.why = sent <= lastRenew + TTL_MS ? "released" : "trust expired";
        await call(`${(pick() ?? node).url}/v1/kv/${LOCK}?release=${session}`, { method: "PUT", body: "" }).catch(() => undefined);
      }
      holds.push(hold);
      await sleep(Math.random() * 200);
    } catch {
      await sleep(50);
    }
  }
}

async function lockIndexOf(url: string, session: string): Promise<number> {
  try {
    const r = await call(`${url}/v1/kv/${LOCK}?stale`);
    const [e] = (await r.json()) as { LockIndex: number; Session?: string }[];
    return e?.Session === session ? e.LockIndex : -1;
  } catch {
    return -1;
  }
}

async function fencedWrite(url: string, proc: number, session: string, value: string, history: HistoryEvent[], stats: { fenced: number }) {
  history.push({ process: proc, type: "invoke", f: "write", key: GUARDED, value, time: now() * 1e6 });
  let type: HistoryEvent["type"] = "info";
  try {
    const r = await call(`${url}/v1/txn`, {
      method: "PUT", headers: J,
      body: JSON.stringify([
        { KV: { Verb: "check-session", Key: LOCK, Session: session } },
        { KV: { Verb: "set", Key: GUARDED, Value: Buffer.from(value).toString("base64") } },
      ]),
    });
    if (r.status === 200) type = "ok";
    else if (r.status === 409) {
      type = "fail";
      stats.fenced++;
    } else type = r.status < 500 ? "fail" : "info";
  } catch {
    type = "info";
  }
  history.push({ process: proc, type, f: "write", key: GUARDED, value, time: now() * 1e6 });
  // And a consistent read of the register.
  history.push({ process: proc, type: "invoke", f: "read", key: GUARDED, value: null, time: now() * 1e6 });
  try {
    const r = await call(`${url}/v1/kv/${GUARDED}?consistent`);
    const v = r.status === 404 ? null : r.status === 200 ? Buffer.from(((await r.json()) as { Value: string }[])[0]!.Value, "base64").toString() : undefined;
    history.push({ process: proc, type: v === undefined ? "fail" : "ok", f: "read", key: GUARDED, value: v ?? null, time: now() * 1e6 });
  } catch {
    history.push({ process: proc, type: "fail", f: "read", key: GUARDED, value: null, time: now() * 1e6 });
  }
}

async function nemesis(stopAt: number, log: string[]) {
  let round = 0;
  while (now() < stopAt - 3000) {
    await sleep(2500);
    const leader = await c.leader();
    if (round % 2 === 0 && leader >= 0) {
      log.push(`kill -9 leader ${leader}`);
      await c.kill(leader);
      await sleep(1500);
      await c.startNode(leader);
    } else {
      const victim = leader >= 0 ? leader : round % c.nodes.length;
      log.push(`isolate ${victim}`);
      c.isolate(victim);
      await sleep(2500);
      c.heal();
    }
    round++;
  }
}

/** Pairs of holds of different sessions whose intervals overlap. */
export function overlaps(holds: Hold[]): [Hold, Hold][] {
  const sorted = [...holds].sort((a, b) => a.start - b.start);
  const out: [Hold, Hold][] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j]!.start < sorted[i]!.end; j++) {
      if (sorted[j]!.session !== sorted[i]!.session) out.push([sorted[i]!, sorted[j]!]);
    }
  }
  return out;
}

describe("locks under faults", () => {
  test("never two holders at once; fenced writes under the lock are linearizable", async () => {
    c = new TestCluster({ size: 3, sync: "full", electionTimeoutMs: 500, heartbeatMs: 50, snapshotThreshold: 500, env: { CORRAL_LEADER_SESSION_TTL_MIN: "500ms" } });
    await c.start();
    await c.waitLeader();
    const holds: Hold[] = [];
    const history: HistoryEvent[] = [];
    const stats = { renewFail: 0, fenced: 0 };
    const log: string[] = [];
    const stopAt = now() + RUN_MS;
    await Promise.all([...Array.from({ length: CONTENDERS }, (_, p) => contender(p, stopAt, holds, history, stats)), nemesis(stopAt, log)]);
    c.heal();

    const bad = overlaps(holds);
    const handovers = [...holds].sort((a, b) => a.start - b.start).filter((h, i, all) => i > 0 && all[i - 1]!.session !== h.session).length;
    const writes = history.filter((e) => e.f === "write" && e.type === "ok").length;
    console.log(
      `lock faults: ${log.join(", ")}\n` +
        `holds ${holds.length} (${holds.filter((h) => h.proc % 2 === 1).length} by waiting acquires), hand-overs ${handovers}, overlaps ${bad.length}, fenced writes ok ${writes}, fenced refusals ${stats.fenced}, ` +
        `renew failures ${stats.renewFail}, ends: ${JSON.stringify(holds.reduce<Record<string, number>>((m, h) => ({ ...m, [h.why]: (m[h.why] ?? 0) + 1 }), {}))}`,
    );
    if (bad.length) console.log(JSON.stringify(bad.slice(0, 3), null, 2));
    expect(log.length).toBeGreaterThanOrEqual(2);
    expect(handovers).toBeGreaterThan(5);
    expect(bad).toEqual([]);
    // Lock indexes only grow along the hand-overs (a fencing token).
    const known = [...holds].filter((h) => h.lockIndex > 0).sort((a, b) => a.start - b.start);
    for (let i = 1; i < known.length; i++) if (known[i]!.session !== known[i - 1]!.session) expect(known[i]!.lockIndex).toBeGreaterThan(known[i - 1]!.lockIndex);
    const result = checkHistory(history);
    expect(result.ok).toBe(true);
  }, RUN_MS + 90_000);
});

describe("session TTLs across a leader change", () => {
  test("the new leader gives every session a full 2×TTL: not invalidated early, gone once it lapses unrenewed", async () => {
    const cl = new TestCluster({ size: 3, electionTimeoutMs: 500, heartbeatMs: 50, env: { CORRAL_LEADER_SESSION_TTL_MIN: "500ms" } });
    try {
      await cl.start();
      const first = await cl.waitLeader();
      const url = cl.nodes[first]!.url;
      const r = await fetch(`${url}/v1/session/create`, { method: "PUT", headers: J, body: JSON.stringify({ TTL: "2s", LockDelay: "0s" }) });
      const id = ((await r.json()) as { ID: string }).ID;
      expect((await fetch(`${url}/v1/kv/ttl/lock?acquire=${id}`, { method: "PUT", body: "x" }).then((x) => x.json()))).toBe(true);
      // Renewed just before the old leader dies: its timer would have fired 4 s later.
      expect((await fetch(`${url}/v1/session/renew/${id}`, { method: "PUT" })).status).toBe(200);
      await cl.kill(first);
      const next = await cl.waitLeader(15_000);
      const elected = now();
      const nurl = cl.nodes[next]!.url;
      const info = async () => ((await (await fetch(`${nurl}/v1/session/info/${id}`)).json()) as unknown[]).length;
      // The new leader's timer started at its election: the session lives at least 2×TTL − slack from now.
      await sleep(2500);
      expect(await info()).toBe(1);
      const gone = await (async () => {
        for (;;) {
          if ((await info()) === 0) return now();
          if (now() - elected > 20_000) return Infinity;
          await sleep(100);
        }
      })();
      expect(gone - elected).toBeGreaterThanOrEqual(3500);
      expect(gone - elected).toBeLessThan(12_000);
      const lock = (await (await fetch(`${nurl}/v1/kv/ttl/lock`)).json()) as { Session?: string }[];
      expect(lock[0]!.Session).toBeUndefined();
    } finally {
      await cl.stop();
    }
  }, 90_000);
});
