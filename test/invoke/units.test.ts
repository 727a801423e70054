// The invoke plugin's pure parts, with an injected clock and seeded random
// numbers: balancers, the breaker state machine, the retry budget, backoff,
// retry rules, trace context, headers, Host routing, config.
import { describe, expect, test } from "bun:test";
import { createBalancer, leastRequest, powerOfTwo, roundRobin, weighted, type Candidate } from "../../plugins/invoke/balancer.ts";
import { RetryBudget } from "../../plugins/invoke/budget.ts";
import { effectivePolicy, invokeConfigSchema } from "../../plugins/invoke/config.ts";
import { stripResponseHopHeaders, timeoutHeaderMs, upstreamHeaders } from "../../plugins/invoke/headers.ts";
import { HostRouter, pathAndQuery, splitInvokePath } from "../../plugins/invoke/listener.ts";
import * as br from "../../plugins/invoke/outlier.ts";
import { ServicePool, type EndpointSpec } from "../../plugins/invoke/pool.ts";
import { backoffMs, classifyError, retryable } from "../../plugins/invoke/retry.ts";
import { isValidTraceparent, TraceIds } from "../../plugins/invoke/trace.ts";
import { mulberry32 } from "../sim/prng.ts";

const seeded = (seed: number) => mulberry32(seed).next;

type C = Candidate & { id: string };
const cands = (n: number, weights: number[] = []): C[] => Array.from({ length: n }, (_, i) => ({ id: `e${i}`, inflight: 0, weight: weights[i] ?? 1, swrr: 0 }));
const all = () => true;
const count = (picks: (C | undefined)[]) => picks.reduce((m, p) => m.set(p!.id, (m.get(p!.id) ?? 0) + 1), new Map<string, number>());

describe("balancers", () => {
  test("round robin cycles and skips refused candidates", () => {
    const list = cands(3);
    const b = roundRobin();
    expect(Array.from({ length: 6 }, () => b.pick(list, all)!.id)).toEqual(["e0", "e1", "e2", "e0", "e1", "e2"]);
    expect(Array.from({ length: 4 }, () => b.pick(list, (e) => e.id !== "e1")!.id)).toEqual(["e0", "e2", "e0", "e2"]);
    expect(b.pick(list, () => false)).toBeUndefined();
  });

  test("least request takes the fewest in flight and spreads ties", () => {
    const list = cands(3);
    list[0]!.inflight = 2;
    list[1]!.inflight = 1;
    list[2]!.inflight = 1;
    const b = leastRequest(seeded(1));
    const c = count(Array.from({ length: 1000 }, () => b.pick(list, all)));
    expect(c.get("e0")).toBeUndefined();
    expect(c.get("e1")!).toBeGreaterThan(400);
    expect(c.get("e2")!).toBeGreaterThan(400);
  });

  test("power of two choices is uniform when idle and prefers the less loaded", () => {
    const list = cands(3);
    const b = powerOfTwo(seeded(7));
    const c = count(Array.from({ length: 3000 }, () => b.pick(list, all)));
    for (const id of ["e0", "e1", "e2"]) expect(Math.abs(c.get(id)! - 1000)).toBeLessThan(100);
    list[0]!.inflight = 5;
    const busy = count(Array.from({ length: 3000 }, () => b.pick(list, all)));
    // e0 only wins when drawn against itself, which p2c never does (two distinct picks).
    expect(busy.get("e0")).toBeUndefined();
  });

  test("power of two choices falls back to the allowed ones", () => {
    const list = cands(4);
    const b = powerOfTwo(seeded(3));
    const c = count(Array.from({ length: 400 }, () => b.pick(list, (e) => e.id === "e2" || e.id === "e3")));
    expect([...c.keys()].sort()).toEqual(["e2", "e3"]);
    expect(b.pick(cands(1), all)!.id).toBe("e0");
    expect(b.pick(cands(1), () => false)).toBeUndefined();
  });

  test("weighted follows Weights.Passing, interleaved (smooth WRR)", () => {
    const list = cands(3, [5, 1, 1]);
    const b = weighted();
    const seq = Array.from({ length: 7 }, () => b.pick(list, all)!.id);
    expect(seq).toEqual(["e0", "e0", "e1", "e0", "e2", "e0", "e0"]);
    const c = count(Array.from({ length: 700 }, () => b.pick(list, all)));
    expect([c.get("e0"), c.get("e1"), c.get("e2")]).toEqual([500, 100, 100]);
  });

  test("createBalancer names its strategy", () => {
    for (const s of ["round_robin", "least_request", "p2c", "weighted"] as const) expect(createBalancer(s, Math.random).strategy).toBe(s);
  });
});

describe("breaker", () => {
  const cfg = { consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 5000 };

  test("N consecutive failures eject; a success in between resets the count", () => {
    const b = br.newBreaker(0);
    expect(br.failed(b, 1, cfg, all)).toBe(false);
    expect(br.failed(b, 2, cfg, all)).toBe(false);
    br.succeeded(b, 3, cfg);
    expect(br.failed(b, 4, cfg, all)).toBe(false);
    expect(br.failed(b, 5, cfg, all)).toBe(false);
    expect(br.failed(b, 6, cfg, all)).toBe(true);
    expect(b.phase).toBe("open");
    expect(b.until).toBe(1006);
    expect(br.available(b, 1005)).toBe(false);
  });

  test("the cap can veto an ejection; the next failure asks again", () => {
    const b = br.newBreaker(0);
    let allow = false;
    for (let i = 0; i < 3; i++) br.failed(b, i, cfg, () => allow);
    expect(b.phase).toBe("closed");
    allow = true;
    expect(br.failed(b, 4, cfg, () => allow)).toBe(true);
  });

  test("half-open: one probe at a time; success closes, failure re-opens for longer", () => {
    const b = br.newBreaker(0);
    for (let i = 0; i < 3; i++) br.failed(b, 0, cfg, all);
    expect(br.available(b, 1000)).toBe(true);
    br.picked(b, 1000);
    expect(b.phase).toBe("half-open");
    expect(br.available(b, 1000)).toBe(false); // the probe is out
    expect(br.failed(b, 1100, cfg, () => false)).toBe(true); // a failed probe needs no permission
    expect(b.phase).toBe("open");
    expect(b.until).toBe(1100 + 2000);
    br.picked(b, 3100);
    br.abandoned(b); // client went away: no verdict, slot free again
    expect(br.available(b, 3100)).toBe(true);
    br.picked(b, 3200);
    br.succeeded(b, 3200, cfg);
    expect(b.phase).toBe("closed");
    expect(b.ejections).toBe(2);
    br.succeeded(b, 3200 + 5000, cfg); // healthy for max_ejection_time: the count decays
    expect(b.ejections).toBe(0);
  });

  test("ejection time grows to the maximum; the cap rounds down", () => {
    expect([1, 2, 3, 9].map((n) => br.ejectionMs(n, cfg))).toEqual([1000, 2000, 3000, 5000]);
    expect([1, 2, 3, 4, 5].map((n) => br.ejectionCap(n, 50))).toEqual([0, 1, 1, 2, 2]);
  });

  test("the pool never ejects more than max_ejection_percent", () => {
    const pool = new ServicePool("round_robin", seeded(1), { ...cfg, maxEjectionPercent: 50 });
    const spec = (i: number): EndpointSpec => ({ key: `n/${i}`, node: "n", serviceId: `s${i}`, address: "127.0.0.1", port: 1000 + i, weight: 1 });
    pool.update([0, 1, 2, 3].map(spec), 0);
    let ejected = 0;
    for (const e of pool.endpoints) for (let i = 0; i < 3; i++) if (pool.failed(e, 10)) ejected++;
    expect(ejected).toBe(2);
    expect(pool.ejectedCount()).toBe(2);
    // The survivors take every pick; a tried one is avoided while another remains.
    const first = pool.pick(20, null)!;
    expect(first.breaker.phase).toBe("closed");
    expect(pool.pick(20, [first])).not.toBe(first);
    // An update keeps state of instances that stay and drops those that leave.
    const kept = pool.endpoints[0]!;
    const gone = pool.update([spec(0), spec(4)], 30);
    expect(pool.endpoints[0]).toBe(kept);
    expect(gone.map((e) => e.spec.key).sort()).toEqual(["n/1", "n/2", "n/3"]);
  });
});

describe("retry budget", () => {
  test("allows percent of requests plus the per-second floor over the window", () => {
    let now = 0;
    const budget = new RetryBudget({ percent: 20, minPerSecond: 1, windowMs: 10_000 }, () => now);
    for (let i = 0; i < 100; i++) budget.recordRequest();
    let granted = 0;
    for (let i = 0; i < 100; i++) if (budget.tryRetry()) granted++;
    expect(granted).toBe(30); // 20% of 100 + 1/s * 10 s
    expect(budget.exhausted).toBe(70);
    now = 10_500; // the first second left the window
    expect(budget.totals()).toEqual({ requests: 0, retries: 0 });
    expect(budget.tryRetry()).toBe(true);
  });

  test("the window slides one second at a time", () => {
    let now = 0;
    const budget = new RetryBudget({ percent: 50, minPerSecond: 0, windowMs: 3000 }, () => now);
    for (let s = 0; s < 3; s++) {
      now = s * 1000;
      for (let i = 0; i < 10; i++) budget.recordRequest();
    }
    expect(budget.totals().requests).toBe(30);
    now = 3000;
    expect(budget.totals().requests).toBe(20);
  });
});

describe("retry rules", () => {
  const rules = { methods: new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]) };
  test("backoff is full jitter, capped", () => {
    expect(backoffMs(1, 25, 250, () => 0.999)).toBe(24);
    expect(backoffMs(3, 25, 250, () => 0.5)).toBe(50);
    expect(backoffMs(10, 25, 250, () => 0.999)).toBe(249);
    expect(backoffMs(2, 25, 250, () => 0)).toBe(0);
  });
  test("refused is retried for any method; the rest only for idempotent ones; streamed bodies never", () => {
    expect(retryable("refused", "POST", true, rules)).toBe(true);
    expect(retryable("reset", "POST", true, rules)).toBe(false);
    expect(retryable("timeout", "GET", true, rules)).toBe(true);
    expect(retryable("status", "PUT", true, rules)).toBe(true);
    expect(retryable("status", "PATCH", true, rules)).toBe(false);
    expect(retryable("refused", "GET", false, rules)).toBe(false);
    expect(retryable("aborted", "GET", true, rules)).toBe(false);
  });
  test("errors are classified by code", () => {
    expect(classifyError(Object.assign(new TypeError("x"), { code: "ECONNREFUSED" }))).toBe("refused");
    expect(classifyError(Object.assign(new TypeError("x"), { code: "ECONNRESET" }))).toBe("reset");
    expect(classifyError({ cause: { code: "ECONNREFUSED" } })).toBe("refused");
    expect(classifyError(new Error("?"))).toBe("other");
  });
});

describe("trace context", () => {
  const ids = new TraceIds(((): ((b: Uint8Array) => void) => {
    const rng = seeded(5);
    return (b) => b.forEach((_, i) => (b[i] = Math.floor(rng() * 256)));
  })());
  test("keeps the trace id and flags, renews the parent id", () => {
    const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const out = ids.next(incoming);
    expect(out).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(out.slice(36, 52)).not.toBe("b7ad6b7169203331");
    expect(ids.next("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00").endsWith("-00")).toBe(true);
  });
  test("ids: lowercase hex of the pool's bytes, never all zeros, fresh across refills", () => {
    let fills = 0;
    const rng = seeded(9);
    // The first pool is all zeros: every id cut from it is invalid and skipped, the next pool serves.
    const z = new TraceIds((b) => void (fills++ === 0 ? b.fill(0) : b.forEach((_, i) => (b[i] = Math.floor(rng() * 256)))));
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const id = z.hex(8);
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      expect(id).not.toBe("0000000000000000");
      seen.add(id);
    }
    expect(seen.size).toBe(2_000);
    expect(fills).toBeGreaterThan(2);
  });
  test("starts a sampled trace when absent or invalid", () => {
    for (const bad of [null, "", "garbage", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"]) {
      const out = ids.next(bad);
      expect(out).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(isValidTraceparent(out)).toBe(true);
    }
  });
});

describe("headers", () => {
  const trace = new TraceIds();
  test("hop-by-hop and control headers go; forwarding headers are set or appended", () => {
    const h = upstreamHeaders(new Headers({
      host: "web", connection: "keep-alive, x-hop", "x-hop": "1", "keep-alive": "timeout=5", te: "trailers", "x-corral-timeout": "1s",
      "x-consul-token": "secret", "x-forwarded-for": "10.0.0.1", authorization: "Bearer app", "content-type": "text/plain",
    }), { ip: "127.0.0.1", proto: "http" }, trace);
    for (const gone of ["host", "connection", "x-hop", "keep-alive", "te", "x-corral-timeout", "x-consul-token"]) expect(h.has(gone)).toBe(false);
    expect(h.get("x-forwarded-for")).toBe("10.0.0.1, 127.0.0.1");
    expect(h.get("x-forwarded-host")).toBe("web");
    expect(h.get("x-forwarded-proto")).toBe("http");
    expect(h.get("authorization")).toBe("Bearer app");
    expect(h.get("content-type")).toBe("text/plain");
    expect(isValidTraceparent(h.get("traceparent")!)).toBe(true);
    const kept = upstreamHeaders(new Headers({ "x-forwarded-proto": "https", "x-forwarded-host": "edge" }), { ip: "", proto: "http" }, trace);
    expect([kept.get("x-forwarded-proto"), kept.get("x-forwarded-host"), kept.get("x-forwarded-for")]).toEqual(["https", "edge", null]);
  });
  test("response connection headers are dropped", () => {
    const h = new Headers({ connection: "x-a", "x-a": "1", "keep-alive": "timeout=5", "content-type": "a/b" });
    stripResponseHopHeaders(h);
    expect([...h.keys()]).toEqual(["content-type"]);
  });
  test("timeout header: a duration or milliseconds", () => {
    expect([timeoutHeaderMs("250"), timeoutHeaderMs("250ms"), timeoutHeaderMs("2s"), timeoutHeaderMs("1m")]).toEqual([250, 250, 2000, 60_000]);
    expect([timeoutHeaderMs(null), timeoutHeaderMs("soon"), timeoutHeaderMs("0"), timeoutHeaderMs("2h")]).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe("routing", () => {
  const r = new HostRouter("corral", "dc1");
  test("Host names a service", () => {
    expect(r.service("web")).toBe("web");
    expect(r.service("Web:7701")).toBe("web");
    expect(r.service("web.service.corral")).toBe("web");
    expect(r.service("web.service.corral.:7701")).toBe("web");
    expect(r.service("web.service.dc1.corral")).toBe("web");
    for (const none of ["127.0.0.1:7701", "localhost", "[::1]:7701", "web.example.com", "a.b.service.corral", null]) expect(r.service(none)).toBe("");
  });
  test("path form and URL splitting", () => {
    expect(splitInvokePath("/v1/invoke/web/a/b?c=1")).toEqual({ service: "web", target: "/a/b?c=1" });
    expect(splitInvokePath("/v1/invoke/web?c=1")).toEqual({ service: "web", target: "/?c=1" });
    expect(splitInvokePath("/v1/invoke/we%62")).toEqual({ service: "web", target: "/" });
    expect(splitInvokePath("/v1/other")).toBeUndefined();
    expect(pathAndQuery("http://h:1/x/y?z")).toBe("/x/y?z");
    expect(pathAndQuery("http://h:1")).toBe("/");
  });
});

describe("config", () => {
  test("defaults, and per-service policy layered under run-time overrides", () => {
    const cfg = invokeConfigSchema.parse({ services: { Web: { strategy: "round_robin", try_timeout: "1s" } } });
    expect([cfg.port, cfg.bind, cfg.domain, cfg.strategy, cfg.max_ejection_percent]).toEqual([7701, "127.0.0.1", "corral", "p2c", 50]);
    expect(effectivePolicy(cfg, "web")).toEqual({ strategy: "round_robin", tryTimeoutMs: 1000, timeoutMs: 15_000, maxRetries: 2 });
    expect(effectivePolicy(cfg, "web", { strategy: "weighted", max_retries: 0 })).toEqual({ strategy: "weighted", tryTimeoutMs: 1000, timeoutMs: 15_000, maxRetries: 0 });
    expect(effectivePolicy(cfg, "db").strategy).toBe("p2c");
  });
  test("bad values are refused with the key", () => {
    expect(invokeConfigSchema.safeParse({ strategy: "random" }).success).toBe(false);
    expect(invokeConfigSchema.safeParse({ backoff_base: "1s", backoff_max: "10ms" }).success).toBe(false);
    expect(invokeConfigSchema.safeParse({ services: { web: { nope: 1 } } }).success).toBe(false);
  });
});
