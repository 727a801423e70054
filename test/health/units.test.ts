// The health plugin's pure parts with injected clocks: thresholds (Consul's
// StatusHandler), output deferral, the min-heap scheduler, the runner's
// scheduling, jitter, bounded concurrency and redefinition.
import { describe, expect, test } from "bun:test";
import { CheckState, thresholds } from "../../plugins/health/thresholds.ts";
import { DueQueue, firstRunAt, nextRunAt } from "../../plugins/health/scheduler.ts";
import { HealthRunner, type RunnerDeps } from "../../plugins/health/runner.ts";
import { runSpec, splitHostPort } from "../../plugins/health/definition.ts";
import { httpStatus, utf8Prefix } from "../../core/checks/probes.ts";
import { exitStatus } from "../../plugins/health/exec-probe.ts";
import type { LocalCheckInfo } from "../../plugins/discovery/topics.ts";
import type { CheckStatus } from "../../core/state/domains/catalog.ts";

const r = (status: CheckStatus, output = status) => ({ status, output });

describe("thresholds", () => {
  test("defaults (0, 0): every result counts at once", () => {
    const s = new CheckState(thresholds({}), "critical", 60_000);
    expect(s.observe(r("passing"), 0)).toEqual(r("passing"));
    expect(s.observe(r("passing"), 1)).toBeUndefined();
    expect(s.observe(r("critical"), 2)).toEqual(r("critical"));
    expect(s.observe(r("warning"), 3)).toEqual(r("warning"));
  });

  test("SuccessBeforePassing 3, FailuresBeforeCritical 2: transitions only past the counts, counters reset on the other side", () => {
    const s = new CheckState(thresholds({ SuccessBeforePassing: 3, FailuresBeforeCritical: 2 }), "critical", 60_000);
    const seq: CheckStatus[] = ["passing", "passing", "critical", "passing", "passing", "passing", "critical", "passing", "critical", "critical", "critical"];
    const out = seq.map((st, i) => s.observe(r(st), i)?.status ?? "-");
    expect(out).toEqual(["-", "-", "-", "-", "-", "passing", "-", "-", "-", "critical", "-"]);
  });

  test("FailuresBeforeWarning below FailuresBeforeCritical warns first; above it is clamped", () => {
    const s = new CheckState(thresholds({ FailuresBeforeWarning: 1, FailuresBeforeCritical: 3 }), "passing", 60_000);
    expect([1, 2, 3].map((i) => s.observe(r("critical"), i)?.status ?? "-")).toEqual(["warning", "-", "critical"]);
    const t = thresholds({ FailuresBeforeWarning: 9, FailuresBeforeCritical: 2 });
    const c = new CheckState(t, "passing", 60_000);
    expect([1, 2].map((i) => c.observe(r("critical"), i)?.status ?? "-")).toEqual(["-", "critical"]);
    expect(thresholds({ FailuresBeforeCritical: 4 })).toEqual({ successBeforePassing: 0, failuresBeforeCritical: 4, failuresBeforeWarning: 4 });
  });

  test("a warning result counts as a success (429 after 2 successes needed)", () => {
    const s = new CheckState(thresholds({ SuccessBeforePassing: 2 }), "critical", 0);
    expect(s.observe(r("warning"), 0)).toBeUndefined();
    expect(s.observe(r("warning"), 1)).toEqual(r("warning"));
  });

  test("output-only changes go out at most once per interval; a status change always at once", () => {
    const s = new CheckState(thresholds({}), "critical", 1_000);
    expect(s.observe({ status: "passing", output: "a" }, 0)).toEqual({ status: "passing", output: "a" });
    expect(s.observe({ status: "passing", output: "b" }, 500)).toBeUndefined();
    expect(s.observe({ status: "passing", output: "a" }, 999)).toBeUndefined();
    expect(s.observe({ status: "passing", output: "c" }, 1000)).toEqual({ status: "passing", output: "c" });
    expect(s.observe({ status: "passing", output: "c" }, 5000)).toBeUndefined();
    expect(s.observe({ status: "critical", output: "d" }, 5001)).toEqual({ status: "critical", output: "d" });
  });
});

describe("DueQueue", () => {
  test("pops in time order, rescheduling replaces, cancel drops, next() skips stale entries", () => {
    const q = new DueQueue();
    q.schedule("a", 30);
    q.schedule("b", 10);
    q.schedule("c", 20);
    q.schedule("a", 5);
    q.cancel("c");
    expect(q.size).toBe(2);
    expect(q.next()).toBe(5);
    expect(q.popDue(10)).toEqual(["a", "b"]);
    expect(q.next()).toBeUndefined();
    expect(q.popDue(100)).toEqual([]);
  });

  test("10,000 random entries come out sorted; stale entries are compacted", () => {
    const q = new DueQueue();
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 10_000; i++) q.schedule(`c${i}`, Math.floor(rnd() * 1e6));
    for (let i = 0; i < 10_000; i += 2) q.schedule(`c${i}`, 2e6 + i); // reschedule half
    const first = q.popDue(1e6);
    expect(first.length).toBe(5_000);
    const rest = q.popDue(1e9);
    expect(rest).toEqual(Array.from({ length: 5_000 }, (_, k) => `c${2 * k}`));
    expect(q.size).toBe(0);
  });

  test("jitter spreads first runs over the interval; next runs keep the rate but never lie in the past", () => {
    const starts = Array.from({ length: 1000 }, (_, i) => firstRunAt(0, 10_000, () => i / 1000));
    expect(Math.min(...starts)).toBe(0);
    expect(Math.max(...starts)).toBe(9_990);
    expect(nextRunAt(1000, 1010, 500)).toBe(1500);
    expect(nextRunAt(1000, 2200, 500)).toBe(2200);
  });
});

/** A runner on a fake clock: timers fire when the test advances time; probes resolve when the test says. */
function harness(opts: Partial<RunnerDeps> = {}) {
  let now = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const pending: { id: string; resolve: (s: CheckStatus) => void }[] = [];
  const reports: [string, CheckStatus][] = [];
  let timerCount = 0;
  const runner = new HealthRunner({
    now: () => now, random: () => 0.5,
    setTimer: (ms, fn) => {
      timerCount++;
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return { cancel: () => void (t.live = false) };
    },
    probe: (spec) => new Promise((resolve) => pending.push({ id: spec.id, resolve: (s) => resolve({ status: s, output: s }) })),
    report: (id, rep) => reports.push([id, rep.status]),
    maxConcurrent: 100, minIntervalMs: 10, outputIntervalMs: 60_000, ...opts,
  });
  const advance = async (ms: number) => {
    const until = now + ms;
    for (;;) {
      const t = timers.filter((x) => x.live && x.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!t) break;
      now = Math.max(now, t.at);
      t.live = false;
      t.fn();
    }
    now = until;
  };
  const settle = async (status: CheckStatus) => {
    for (const p of pending.splice(0)) p.resolve(status);
    await Bun.sleep(0);
  };
  return { runner, advance, settle, pending, reports, liveTimers: () => timers.filter((t) => t.live).length, timerCount: () => timerCount, now: () => now };
}

const http = (id: string, interval = "1s", extra: Record<string, unknown> = {}): LocalCheckInfo => ({
  id, serviceId: "s", type: "http", status: "critical", definition: { HTTP: "http://127.0.0.1:1/", Interval: interval, ...extra },
});

describe("HealthRunner", () => {
  test("one timer for many checks; each runs once per interval; only changes are reported", async () => {
    const h = harness();
    h.runner.apply({ op: "reset", checks: Array.from({ length: 50 }, (_, i) => http(`c${i}`)) });
    expect(h.liveTimers()).toBe(1);
    await h.advance(500); // random 0.5: first runs at 500 ms
    expect(h.pending.length).toBe(50);
    await h.settle("passing");
    expect(h.reports.length).toBe(50);
    for (let i = 0; i < 5; i++) {
      await h.advance(1000);
      expect(h.pending.length).toBe(50);
      await h.settle("passing");
    }
    expect(h.reports.length).toBe(50); // no change, no report
    expect(h.liveTimers()).toBe(1);
  });

  test("bounded concurrency: past max_concurrent due checks wait and start as slots free", async () => {
    const h = harness({ maxConcurrent: 3 });
    h.runner.apply({ op: "reset", checks: Array.from({ length: 10 }, (_, i) => http(`c${i}`)) });
    await h.advance(500);
    expect(h.pending.length).toBe(3);
    expect(h.runner.stats.waiting).toBe(7);
    let ran = 0;
    while (h.pending.length) {
      ran += h.pending.length;
      await h.settle("passing");
    }
    expect(ran).toBe(10);
    expect(h.runner.stats.waiting).toBe(0);
  });

  test("redefinition restarts a check; an equal definition keeps its schedule; remove stops it", async () => {
    const h = harness();
    h.runner.put(http("a"));
    await h.advance(500);
    await h.settle("passing");
    h.runner.put({ ...http("a"), status: "passing" }); // same definition (a re-registration)
    await h.advance(1000);
    expect(h.pending.map((p) => p.id)).toEqual(["a"]);
    h.runner.put(http("a", "2s")); // new definition while a probe runs: that probe's result is dropped
    await h.settle("critical");
    expect(h.reports).toEqual([["a", "passing"]]);
    await h.advance(1000); // new first run at 0.5 x 2 s
    expect(h.pending.length).toBe(1);
    h.runner.remove("a");
    await h.settle("critical");
    await h.advance(10_000);
    expect(h.pending.length).toBe(0);
    expect(h.reports).toEqual([["a", "passing"]]);
  });

  test("intervals are raised to min_interval; definitions parse Consul's fields", () => {
    const s = runSpec(http("x", "5ms", { Method: "post", Header: { "X-A": ["1", "2"] }, Timeout: "2s", SuccessBeforePassing: 2 }), 1000);
    expect(s.intervalMs).toBe(1000);
    expect(s.timeoutMs).toBe(2000);
    expect(s.probe).toMatchObject({ kind: "http", method: "POST", headers: [["X-A", "1"], ["X-A", "2"]] });
    expect(s.thresholds.successBeforePassing).toBe(2);
    const tcp = runSpec({ id: "t", serviceId: "", type: "tcp", status: "critical", definition: { TCP: "[::1]:80", Interval: "1s" } }, 10);
    expect(tcp.probe).toEqual({ kind: "tcp", host: "::1", port: 80 });
    expect(tcp.timeoutMs).toBe(10_000);
    const ex = runSpec({ id: "e", serviceId: "", type: "script", status: "critical", definition: { ScriptArgs: ["true"], Interval: "1s" } }, 10);
    expect(ex).toMatchObject({ probe: { kind: "exec", args: ["true"] }, timeoutMs: 30_000 });
    expect(runSpec({ id: "b", serviceId: "", type: "tcp", status: "critical", definition: { TCP: "nope", Interval: "1s" } }, 10).probe.kind).toBe("invalid");
    expect(splitHostPort("a:0")).toBeUndefined();
  });
});

describe("probe rules", () => {
  test("http: 2xx passing, 429 warning, else critical; exec: 0 passing, 1 warning, else critical", () => {
    expect([200, 204, 299, 301, 404, 429, 500, 503].map(httpStatus)).toEqual(["passing", "passing", "passing", "critical", "critical", "warning", "critical", "critical"]);
    expect([0, 1, 2, 127, null].map(exitStatus)).toEqual(["passing", "warning", "critical", "critical", "critical"]);
  });

  test("body excerpts never split a UTF-8 sequence", () => {
    const bytes = new TextEncoder().encode("aé€😀");
    expect(utf8Prefix(bytes, 100)).toBe("aé€😀");
    expect(utf8Prefix(bytes, 2)).toBe("a");
    expect(utf8Prefix(bytes, 3)).toBe("aé");
    expect(utf8Prefix(bytes, 7)).toBe("aé€");
  });
});

describe("discovery's side of the hand-off", () => {
  test("runnable checks are announced: reset at start, put on (re)definition, remove when gone or no longer runnable", async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { LocalRegistry } = await import("../../plugins/discovery/local.ts");
    const { CheckRunner } = await import("../../plugins/discovery/checks.ts");
    const { parseServiceRegistration } = await import("../../plugins/discovery/definition.ts");
    const registry = new LocalRegistry(join(mkdtempSync(join(tmpdir(), "corral-health-")), "services.json"));
    const events: any[] = [];
    const statusWrites: string[] = [];
    let saves = 0;
    const runner = new CheckRunner({
      registry, sync: { status: async (id: string) => void statusWrites.push(id) } as any, now: () => 0,
      after: () => ({ cancel() {} }), notify: (e) => events.push(e), saveSoon: () => void saves++,
    });
    const reg = parseServiceRegistration({ Name: "web", Checks: [{ CheckID: "h", HTTP: "http://x/", Interval: "1s" }, { CheckID: "t", TTL: "5s" }] });
    registry.putService(reg.service, reg.checks, false, 0);
    runner.armAll();
    expect(events.shift()).toMatchObject({ op: "reset", checks: [{ id: "h", type: "http", status: "critical" }] });
    for (const c of reg.checks) runner.arm(c.id);
    expect(events.splice(0)).toMatchObject([{ op: "put", check: { id: "h" } }, { op: "remove", id: "t" }]);
    // A runner's result: status change written at once, the file later; an unchanged result does nothing.
    expect(await runner.set("h", "passing", "ok", false, false)).toBe("status");
    expect(await runner.set("h", "passing", "ok", false, false)).toBe("none");
    expect([statusWrites, saves]).toEqual([["h"], 1]);
    // Re-registered as TTL under the same ID: it leaves the runner.
    const ttl = parseServiceRegistration({ Name: "web", Checks: [{ CheckID: "h", TTL: "5s" }] });
    registry.putService(ttl.service, ttl.checks, true, 0);
    runner.arm("h");
    expect(events.splice(0)).toEqual([{ op: "remove", id: "h" }]);
    runner.stop();
    expect(events.splice(0)).toEqual([{ op: "reset", checks: [] }]);
  });
});
