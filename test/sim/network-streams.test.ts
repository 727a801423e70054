// The simulator's model of the streaming peer transport (network.ts): on a
// stream, messages arrive in the order sent, never duplicated or dropped one
// by one; a stream is lost whole (everything in flight on it) when it breaks
// or its link is blocked, and the link then falls back to per-message
// delivery until a new stream is up.
import { expect, test } from "bun:test";
import type { Message } from "../../core/raft/index.ts";
import { SimNetwork } from "./network.ts";
import { mulberry32 } from "./prng.ts";
import { pickSwarm, type Swarm } from "./swarm.ts";

function swarm(over: Partial<Swarm>): Swarm {
  return { ...pickSwarm(mulberry32(1)), minDelay: 1, maxDelay: 30, dropRate: 0.2, dupRate: 0.05, streams: true, streamBreakRate: 0, ...over };
}

const msg = (i: number, from = "a", to = "b"): Message => ({ type: "heartbeat", from, to, term: i }) as unknown as Message;

/** Sends n messages a→b one unit apart; returns what arrives, in arrival order (breaking at `breakAt`). */
function run(net: SimNetwork, n: number, hook?: (i: number) => void): number[] {
  const sched: { time: number; seq: number; m: Message }[] = [];
  let seq = 0;
  for (let i = 0; i < n; i++) {
    hook?.(i);
    net.send(i, msg(i), (time, m) => sched.push({ time, seq: seq++, m }));
  }
  sched.sort((x, y) => x.time - y.time || x.seq - y.seq);
  return sched.filter((s) => net.arrives(s.m)).map((s) => s.m.term);
}

test("a stream delivers in order, without drops or duplicates, despite a lossy reordering network", () => {
  const got = run(new SimNetwork(mulberry32(7), swarm({})), 500);
  expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i));
});

test("without streams the same network reorders, drops and duplicates (the control)", () => {
  const got = run(new SimNetwork(mulberry32(7), swarm({ streams: false })), 500);
  expect(got).not.toEqual(Array.from({ length: 500 }, (_, i) => i));
  expect(got.some((t, i) => i > 0 && t < got[i - 1]!)).toBe(true);
});

test("a blocked link loses everything in flight on its stream, and only that", () => {
  const net = new SimNetwork(mulberry32(3), swarm({ dropRate: 0, dupRate: 0 }));
  const sched: { time: number; m: Message }[] = [];
  for (let i = 0; i < 10; i++) net.send(0, msg(i), (time, m) => sched.push({ time, m }));
  const other: Message[] = [];
  net.send(0, msg(99, "b", "a"), (_t, m) => other.push(m));
  net.block("a", "b");
  net.healPartitions();
  expect(sched.filter((s) => net.arrives(s.m))).toEqual([]);
  expect(other.every((m) => net.arrives(m))).toBe(true);
  expect(net.streamBreaks).toBe(1);
});

test("random breaks lose a stream whole: what arrives is a prefix of each stream, in order per stream", () => {
  const net = new SimNetwork(mulberry32(11), swarm({ streamBreakRate: 0.05, dropRate: 0, dupRate: 0 }));
  const got = run(net, 2000);
  expect(net.streamBreaks).toBeGreaterThan(10);
  // Some messages were lost with their stream, none arrived twice.
  expect(got.length).toBeLessThan(2000);
  expect(new Set(got).size).toBe(got.length);
});

test("a crashed node's streams are lost", () => {
  const net = new SimNetwork(mulberry32(5), swarm({ dropRate: 0, dupRate: 0 }));
  const sched: Message[] = [];
  net.send(0, msg(1), (_t, m) => sched.push(m));
  net.dropStreamsOf("b");
  expect(sched.some((m) => net.arrives(m))).toBe(false);
});
