// The threshold state machine over a fake sample stream (time injected, no
// clock), and NodeMonitor proposing only transitions.
import { describe, expect, test } from "bun:test";
import { memoryPercent, stepThreshold, type ThresholdOptions, type ThresholdState } from "../../core/monitor/thresholds.ts";
import { NodeMonitor } from "../../core/cluster/node-monitor.ts";
import { silentLogger } from "../../core/log.ts";
import type { LiveSample } from "../../core/cluster/protocol.ts";
import type { Command } from "../../core/state/commands.ts";
import type { Replicator } from "../../core/state/replicator.ts";
import { emptyStateReader, type StateReader } from "../../core/state/reader.ts";

const s = (cpu: number, memPct = 10): LiveSample => ({
  time: 0, cpuPercent: cpu, memoryUsedBytes: memPct, memoryAvailableBytes: 100 - memPct, load1: 0, load5: 0, load15: 0,
});
const T: ThresholdOptions = { cpuPercent: 90, memoryPercent: 80, durationMs: 60_000 };

/** Feeds (time, sample) pairs; returns the transitions with the time they happened. */
function run(feed: [number, LiveSample][], opts = T, start: ThresholdState = { health: "passing" }) {
  let st = start;
  const out: [number, string, string][] = [];
  for (const [t, sample] of feed) {
    const r = stepThreshold(st, sample, t, opts);
    st = r.state;
    if (r.transition) out.push([t, r.transition.status, r.transition.reason]);
  }
  return { transitions: out, state: st };
}

/** One sample every 10 s from `from` to `to` (inclusive). */
const every10s = (from: number, to: number, sample: LiveSample): [number, LiveSample][] => {
  const out: [number, LiveSample][] = [];
  for (let t = from; t <= to; t += 10_000) out.push([t, sample]);
  return out;
};

describe("stepThreshold", () => {
  test("warning once CPU stayed above for the duration, passing once under for as long", () => {
    const { transitions } = run([...every10s(0, 50_000, s(20)), ...every10s(60_000, 150_000, s(97)), ...every10s(160_000, 260_000, s(30))]);
    expect(transitions).toEqual([
      [120_000, "warning", "cpu 97.0% > 90% for 60s"],
      [220_000, "passing", "cpu and memory under their thresholds for 60s"],
    ]);
  });

  test("a dip under the threshold starts the timer over: no warning for a node that hovers", () => {
    const feed: [number, LiveSample][] = [];
    for (let t = 0; t < 600_000; t += 10_000) feed.push([t, s(t % 50_000 === 0 ? 50 : 95)]);
    expect(run(feed).transitions).toEqual([]);
  });

  test("and a spike while warning starts the clearing timer over", () => {
    const feed: [number, LiveSample][] = [];
    for (let t = 0; t < 600_000; t += 10_000) feed.push([t, s(t % 50_000 === 0 ? 99 : 10)]);
    const r = run(feed, T, { health: "warning" });
    expect(r.transitions).toEqual([]);
    expect(r.state.health).toBe("warning");
  });

  test("memory counts used / (used + available); both reasons when both are over", () => {
    expect(memoryPercent({ memoryUsedBytes: 3, memoryAvailableBytes: 1 })).toBe(75);
    expect(memoryPercent({ memoryUsedBytes: 0, memoryAvailableBytes: 0 })).toBe(0);
    const { transitions } = run(every10s(0, 60_000, s(95, 85)));
    expect(transitions).toEqual([[60_000, "warning", "cpu 95.0% > 90%, memory 85.0% > 80% for 60s"]]);
  });

  test("a threshold of 0 turns that check off; a stored warning still clears", () => {
    const off = { cpuPercent: 0, memoryPercent: 0, durationMs: 60_000 };
    expect(run(every10s(0, 600_000, s(100, 99)), off).transitions).toEqual([]);
    expect(run(every10s(0, 60_000, s(100, 99)), off, { health: "warning" }).transitions.map((t) => t[1])).toEqual(["passing"]);
  });

  test("duration 0: the first sample over the threshold is enough", () => {
    expect(run([[5, s(99)]], { ...T, durationMs: 0 }).transitions).toEqual([[5, "warning", "cpu 99.0% > 90% for 0s"]]);
  });
});

describe("NodeMonitor", () => {
  function setup(stored: "passing" | "warning" = "passing", fail = false) {
    let now = 0;
    const proposed: Command[] = [];
    const replicator = {
      propose: async (cmd: Command) => {
        proposed.push(cmd);
        if (fail) throw new Error("not leader");
        return { index: proposed.length, result: { ok: true as const } };
      },
      status: () => ({ isLeader: true, leader: "me", term: 1, commitIndex: 0, appliedIndex: 0, lastContactMs: 0 }),
      close: async () => {},
    } satisfies Replicator;
    const state: StateReader = { ...emptyStateReader, getNode: (id) => ({ id, name: "web-1", health: stored }) as never };
    const m = new NodeMonitor({
      replicator, state, log: silentLogger, now: () => now,
      history: { retentionMs: 3_600_000, resolutionMs: 10_000 }, thresholds: T,
    });
    const feed = (from: number, to: number, sample: LiveSample) => {
      for (let t = from; t <= to; t += 5_000) {
        now = t;
        m.observe("n1", sample);
      }
    };
    return { m, proposed, feed, settle: () => new Promise((r) => setTimeout(r, 0)) };
  }

  test("only transitions are proposed, as SetNodeHealth with the node's name", async () => {
    const { m, proposed, feed, settle } = setup();
    feed(0, 300_000, s(99));
    feed(305_000, 600_000, s(5));
    await settle();
    expect(proposed.map((c) => [c.type, (c as { status: string }).status, c.at])).toEqual([
      ["SetNodeHealth", "warning", 60_000],
      ["SetNodeHealth", "passing", 365_000],
    ]);
    expect(proposed[0]).toMatchObject({ nodeId: "n1", name: "web-1" });
    // 120 raw samples folded into 10 s buckets.
    expect(m.points("n1", 0).length).toBe(61);
    expect(m.points("n1", 0)[0]).toMatchObject({ samples: 2, cpuPercentAvg: 99 });
  });

  test("a new leader seeds from the stored health, so it clears a warning it did not raise", async () => {
    const { proposed, feed, settle } = setup("warning");
    feed(0, 120_000, s(5));
    await settle();
    expect(proposed.map((c) => (c as { status: string }).status)).toEqual(["passing"]);
  });

  test("a failed proposal is tried again after another full duration", async () => {
    const { proposed, feed, settle } = setup("passing", true);
    feed(0, 60_000, s(99));
    await settle();
    feed(65_000, 125_000, s(99));
    await settle();
    expect(proposed.map((c) => c.at)).toEqual([60_000, 125_000]);
  });

  test("nodeDown restarts the timers; retain forgets removed nodes", async () => {
    const { m, proposed, feed, settle } = setup();
    feed(0, 55_000, s(99));
    m.nodeDown("n1");
    feed(60_000, 100_000, s(99));
    await settle();
    expect(proposed).toEqual([]);
    m.retain(new Set());
    expect(m.points("n1", 0)).toEqual([]);
  });
});
