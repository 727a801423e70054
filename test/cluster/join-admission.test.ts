// Join admission (leader.max_joins_in_flight, core/cluster/join-admission.ts):
// the Raft leader works on a bounded number of writing joins at once and
// answers the rest at once with 429 and a Retry-After slot spread over the
// backlog; agents (core/cluster/agent.ts) come back then, with jitter, and
// never give up; a known, ready node's rejoin is never refused.
import { afterAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { JoinAdmission, MAX_RETRY_AFTER_S } from "../../core/cluster/join-admission.ts";
import { AgentMember } from "../../core/cluster/agent.ts";
import { HttpLeaderTransport, RpcError } from "../../core/cluster/transport.ts";
import { retryAfter } from "../../core/cluster/leader-client.ts";
import type { JoinRequest } from "../../core/cluster/protocol.ts";
import { ConfigError, loadConfig } from "../../core/config/load.ts";
import { silentLogger, type Logger } from "../../core/log.ts";
import { eventually, getJson, killAll, signedPost, sleep, startCorral } from "../helpers/proc.ts";

afterAll(killAll);

describe("JoinAdmission (pure)", () => {
  test("admits up to the bound, then gives each refused node the next slot at the rate joins complete", () => {
    let t = 1_000_000;
    const a = new JoinAdmission(2, () => t);
    const first = a.admit("n1");
    const second = a.admit("n2");
    expect(first.admitted && second.admitted).toBe(true);
    // Joins take 200 ms: 2 in flight complete 10 a second.
    t += 200;
    if (first.admitted) first.done();
    const third = a.admit("n3");
    expect(third.admitted).toBe(true);
    t += 200;
    if (second.admitted) second.done();
    if (third.admitted) third.done();
    for (let i = 0; i < 50; i++) {
      const j = a.admit(`fill-${i}`);
      t += 200;
      if (j.admitted) j.done();
    }
    // The running mean has settled near 200 ms. Fill the bound and refuse a burst of 40.
    const held = [a.admit("h1"), a.admit("h2")];
    expect(held.every((h) => h.admitted)).toBe(true);
    const waits: number[] = [];
    for (let i = 0; i < 40; i++) {
      const r = a.admit(`burst-${i}`);
      expect(r.admitted).toBe(false);
      if (!r.admitted) waits.push(r.retryAfterS);
    }
    // Joins of 200 ms with 2 in flight would be 10/s; the rate is never taken below the bound per 100 ms
    // (20/s: too low an estimate leaves the leader idle later). 40 slots: 2 s, in order, 20 per second.
    expect(waits[0]).toBe(1);
    expect(waits[39]).toBe(2);
    for (let i = 1; i < waits.length; i++) expect(waits[i]!).toBeGreaterThanOrEqual(waits[i - 1]!);
    const perSecond = new Map<number, number>();
    for (const w of waits) perSecond.set(w, (perSecond.get(w) ?? 0) + 1);
    expect([...perSecond.values()]).toEqual([20, 20]);
    // Asking again before its slot: the same ticket, no new slot taken (an agent ignoring Retry-After cannot push others out).
    const again = a.admit("burst-39");
    expect(again.admitted).toBe(false);
    if (!again.admitted) expect(again.retryAfterS).toBe(waits[39]!);
    const next = a.admit("late");
    if (!next.admitted) expect(next.retryAfterS).toBeLessThanOrEqual(waits[39]! + 1);
    // A finished join frees its place; done() twice frees it once.
    const h0 = held[0]!;
    if (h0.admitted) h0.done(), h0.done();
    expect(a.admit("burst-0").admitted).toBe(true);
    expect(a.admit("burst-1").admitted).toBe(false);
  });

  test("faster joins, or a better second seen, spread the slots denser", () => {
    let t = 5_000_000;
    const a = new JoinAdmission(2, () => t);
    // 2 in flight, 10 ms each: 200/s.
    for (let i = 0; i < 200; i++) {
      const j = [a.admit(`f${i}a`), a.admit(`f${i}b`)];
      t += 10;
      for (const x of j) if (x.admitted) x.done();
    }
    a.admit("h1"), a.admit("h2");
    const waits: number[] = [];
    for (let i = 0; i < 400; i++) {
      const r = a.admit(`b${i}`);
      if (!r.admitted) waits.push(r.retryAfterS);
    }
    expect(waits.filter((w) => w === 1)).toHaveLength(200);
    expect(waits.filter((w) => w === 2)).toHaveLength(200);
  });

  test("a large bound does not make the floor tell everyone 1 s (a refusal storm): it is capped at 640/s", () => {
    const a = new JoinAdmission(512, () => 9_000_000);
    for (let i = 0; i < 512; i++) expect(a.admit(`h${i}`).admitted).toBe(true);
    const waits: number[] = [];
    for (let i = 0; i < 1280; i++) {
      const r = a.admit(`b${i}`);
      if (!r.admitted) waits.push(r.retryAfterS);
    }
    expect(waits.filter((w) => w === 1)).toHaveLength(640);
    expect(waits.filter((w) => w === 2)).toHaveLength(640);
  });

  test("the wait told is bounded", () => {
    let t = 0;
    const a = new JoinAdmission(1, () => t);
    const one = a.admit("x");
    t += 100_000; // one very slow join: 0.01/s, taken as the floor (1 per 100 ms): 10/s
    if (one.admitted) one.done();
    a.admit("y");
    let last = 0;
    for (let i = 0; i < 4000; i++) {
      const r = a.admit(`n${i}`);
      if (!r.admitted) last = r.retryAfterS;
    }
    expect(last).toBe(MAX_RETRY_AFTER_S);
  });
});

describe("Retry-After", () => {
  test("read as seconds or an HTTP date", () => {
    expect(retryAfter("3")).toBe(3000);
    expect(retryAfter(null)).toBeUndefined();
    expect(retryAfter("soon")).toBeUndefined();
    const d = retryAfter(new Date(Date.now() + 5000).toUTCString())!;
    expect(d).toBeGreaterThan(3000);
    expect(d).toBeLessThanOrEqual(5000);
  });
});

describe("an agent refused with 429", () => {
  test("waits at least Retry-After (plus jitter), says so once, and keeps asking until it joins", async () => {
    const attempts: number[] = [];
    const infos: string[] = [];
    const warns: string[] = [];
    const log = { ...silentLogger, info: (m: string) => void infos.push(m), warn: (m: string) => void warns.push(m), child: () => log } as unknown as Logger;
    const transport = {
      describe: () => "stand-in",
      async join(req: JoinRequest) {
        attempts.push(Date.now());
        if (attempts.length < 4) throw new RpcError(429, "JOIN_BACKLOG", "busy", undefined, undefined, 1000);
        return { nodeId: req.id, index: 1, heartbeatMs: 0 };
      },
      heartbeat: async () => ({ ok: true as const, status: "ready" as const }),
    };
    const member = new AgentMember({
      transport, registration: async () => ({ id: randomUUID() }) as JoinRequest, latestSample: () => undefined,
      heartbeatMs: 60_000, log, random: () => 0.25,
    });
    member.start();
    try {
      await eventually(() => member.isJoined(), 10_000, 20);
    } finally {
      member.stop();
    }
    expect(attempts).toHaveLength(4);
    // Retry-After 1 s plus 0.25 × 1 s of jitter, not the heartbeat-based backoff (60 s here) nor at once.
    for (let i = 1; i < attempts.length; i++) {
      const gap = attempts[i]! - attempts[i - 1]!;
      expect(gap).toBeGreaterThanOrEqual(1240);
      expect(gap).toBeLessThan(2000);
    }
    expect(infos.filter((m) => m.includes("waiting for the turn"))).toHaveLength(1);
    expect(warns).toEqual([]);
    expect(member.joinStats).toEqual({ attempts: 4, refused: 3, timedOut: 0, failed: 0 });
  }, 20_000);
});

describe("leader.max_joins_in_flight in the config", () => {
  const load = (text: string, env: Record<string, string> = {}) => loadConfig({ role: "dev", file: "corral.toml", text, env, builtinPlugins: [], defaultName: "h" });
  test("defaults to 64, takes 1-100000 (file or env), refuses the rest by name", () => {
    expect(load("").leader.maxJoinsInFlight).toBe(64);
    expect(load("[leader]\nmax_joins_in_flight = 8\n").leader.maxJoinsInFlight).toBe(8);
    expect(load("", { CORRAL_LEADER_MAX_JOINS_IN_FLIGHT: "16" }).leader.maxJoinsInFlight).toBe(16);
    for (const bad of ["0", "100001", "-1", "1.5", '"many"']) {
      let err: unknown;
      try {
        load(`[leader]\nmax_joins_in_flight = ${bad}\n`);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).keyPath).toBe("leader.max_joins_in_flight");
    }
  });
});

const SECRET = "join-admission-secret-0123456789";

describe("a leader with max_joins_in_flight = 2", () => {
  test("answers a burst beyond it with 429 and spread Retry-After; every agent joins in the end, nothing lost", async () => {
    const leader = await startCorral({
      role: "leader",
      config: `[cluster]\nsecret = "${SECRET}"\n\n[leader]\nmax_joins_in_flight = 2\n`,
    });
    const fingerprint = {
      datacenter: "dc1", role: "agent", attributes: {},
      resources: { cpuMhz: 1000, cores: 1, memoryBytes: 2 ** 30, diskBytes: 2 ** 30 }, reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {},
    };
    const reg = (id: string, name: string) => ({ id, name, address: "10.0.0.1:7700", ...fingerprint });

    // A known node, ready before the burst: its rejoin during the burst must not be refused.
    const known = randomUUID();
    expect((await signedPost(leader.url, "/v1/cluster/join", SECRET, reg(known, "known"), known)).status).toBe(200);

    // 1. Raw burst: 80 signed joins at once, plus the known node's rejoin and 50 unsigned ones.
    const ids = Array.from({ length: 80 }, () => randomUUID());
    const [answers, rejoin, unsigned] = await Promise.all([
      Promise.all(ids.map((id, i) => signedPost(leader.url, "/v1/cluster/join", SECRET, reg(id, `burst-${i}`), id))),
      signedPost(leader.url, "/v1/cluster/join", SECRET, reg(known, "known"), known),
      Promise.all(Array.from({ length: 50 }, () => getJson(leader.url + "/v1/cluster/join", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(reg(randomUUID(), "intruder")),
      }))),
    ]);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
    for (const r of refused) {
      expect(r.body.code).toBe("JOIN_BACKLOG");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    // Spread: slots at the leader's rate (here the floor, 2 per 100 ms), not one value for everyone.
    expect(new Set(refused.map((r) => r.headers.get("retry-after"))).size).toBeGreaterThan(1);
    expect(rejoin.status).toBe(200);
    // Unsigned callers are turned away before admission: 401, never a slot.
    expect(unsigned.every((u) => u.status === 401)).toBe(true);

    // 2. Real agents (the agent's own membership code over HttpLeaderTransport) in a burst: all join.
    const agents = Array.from({ length: 60 }, (_, i) => {
      const id = randomUUID();
      return new AgentMember({
        transport: new HttpLeaderTransport([leader.url], { secret: SECRET, node: id }, 30_000),
        registration: async () => reg(id, `agent-${i}`) as JoinRequest,
        latestSample: () => undefined, heartbeatMs: 1000, log: silentLogger,
      });
    });
    // And the raw burst's refused joins, asked again as their Retry-After said.
    const retried = answers.flatMap((a, i) => (a.status === 429 ? [[ids[i]!, Number(a.headers.get("retry-after"))] as const] : []));
    try {
      for (const a of agents) a.start();
      const late = Promise.all(retried.map(async ([id, s]) => {
        await sleep(s * 1000 + Math.random() * 1000);
        for (;;) {
          const r = await signedPost(leader.url, "/v1/cluster/join", SECRET, reg(id, `burst-${ids.indexOf(id)}`), id);
          if (r.status === 200) return;
          expect(r.status).toBe(429);
          await sleep(Number(r.headers.get("retry-after")) * 1000 + Math.random() * 1000);
        }
      }));
      await eventually(() => agents.every((a) => a.isJoined()), 60_000, 100);
      await late;
      const stats = agents.map((a) => a.joinStats);
      expect(stats.reduce((n, s) => n + s.refused, 0)).toBeGreaterThan(0);
      expect(stats.every((s) => s.timedOut === 0 && s.failed === 0)).toBe(true);
      // Nothing lost: every node once, ready.
      const nodes = (await getJson<{ id?: string; ID?: string; status?: string; Status?: string }[]>(`${leader.url}/v1/nodes`)).body;
      const listed = new Map(nodes.map((n) => [n.ID ?? n.id, n.Status ?? n.status]));
      expect(nodes.length).toBe(1 + 80 + 60);
      for (const id of [known, ...ids]) expect(listed.get(id)).toBe("ready");
    } finally {
      for (const a of agents) a.stop();
    }
  }, 120_000);
});
