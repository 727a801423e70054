// The Raft message fast path skips the route's zod schema for a batch
// isPlainBatch vouches for (core/api/raft-batch.ts). That is only sound if
// isPlainBatch never vouches for a batch the schema refuses or changes:
// checked here on generated batches at and around every limit of the schema.
import { describe, expect, test } from "bun:test";
import { isPlainBatch, MessageBatch } from "../../core/api/raft-batch.ts";

/** mulberry32: a seeded PRNG, so a failure replays. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MISSING = Symbol("missing");
const strings = (max: number) => ["", "a", "x".repeat(max), "x".repeat(max + 1), "😀".repeat(max / 2), "😀".repeat(max / 2 + 1), "é".repeat(max + 1), 7, null, true, [], {}, MISSING];
const TYPES = ["Append", "Heartbeat", "Bogus", ...strings(32)];
const IDS = ["peer:1", "nobody:1", ...strings(300)];
const TERMS = [0, 1, 42, -1, 1.5, -0, "1", null, 2 ** 53 - 1, 2 ** 53, 1e300, [], {}, MISSING];

function gen(r: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  // Mostly valid fields, so that most batches exercise the accepting side.
  const field = <T>(good: T, all: readonly unknown[]) => (r() < 0.85 ? good : pick(all));
  const set = (o: Record<string, unknown>, k: string, v: unknown) => { if (v !== MISSING) o[k] = v; };
  const message = () => {
    if (r() < 0.03) return pick([null, 3, "m", [], [1]]);
    const m: Record<string, unknown> = {};
    set(m, "type", field(pick(["Append", "AppendResp", "Heartbeat", "Vote"]), TYPES));
    set(m, "from", field("peer:1", IDS));
    set(m, "to", field("nobody:1", IDS));
    set(m, "term", field(Math.floor(r() * 10), TERMS));
    if (r() < 0.5) m.entries = [{ index: 1, term: 1, data: "x" }];
    if (r() < 0.2) m.extra = pick([null, 1, "x", { deep: [1] }]);
    return m;
  };
  if (r() < 0.02) return pick([null, [], 1, "batch"]);
  const b: Record<string, unknown> = {};
  set(b, "from", field("peer:1", IDS));
  const n = Math.floor(r() * 4);
  set(b, "messages", field(Array.from({ length: n }, message), [null, {}, "m", MISSING, Array.from({ length: n }, message)]));
  if (r() < 0.1) b.other = 1;
  // As it arrives: through JSON.
  return JSON.parse(JSON.stringify(b));
}

describe("isPlainBatch", () => {
  test("vouches only for batches MessageBatch accepts, with the messages unchanged", () => {
    const r = rng(19);
    let vouched = 0;
    let refusedBySchema = 0;
    for (let i = 0; i < 30_000; i++) {
      const b = gen(r);
      const parsed = MessageBatch.safeParse(b);
      if (!parsed.success) refusedBySchema++;
      if (!isPlainBatch(b)) continue;
      vouched++;
      if (!parsed.success) throw new Error(`isPlainBatch vouched for a batch the schema refuses: ${JSON.stringify(b).slice(0, 500)} (${parsed.error.issues[0]?.message})`);
      expect(parsed.data.messages as unknown).toEqual(b.messages);
    }
    // Both sides were exercised.
    expect(vouched).toBeGreaterThan(5_000);
    expect(refusedBySchema).toBeGreaterThan(5_000);
  });

  test("vouches for what the Raft transport sends", () => {
    const entries = [{ index: 7, term: 2, data: "eyJ0eXBlIjoiS1ZTZXQifQ==" }];
    expect(isPlainBatch({ from: "10.0.0.1:7700", messages: [] })).toBe(true);
    expect(isPlainBatch({
      from: "10.0.0.1:7700",
      messages: [
        { type: "Append", from: "10.0.0.1:7700", to: "10.0.0.2:7700", term: 2, prevIndex: 6, prevTerm: 2, entries, commit: 6 },
        { type: "Heartbeat", from: "10.0.0.1:7700", to: "10.0.0.2:7700", term: 2, commit: 6, readSeq: 3 },
      ],
    })).toBe(true);
  });
});
