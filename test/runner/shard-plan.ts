// How `npm test` splits the test files over concurrent `bun test` processes
// (test/run.ts). Most of the suite's time is waiting on real processes
// (nodes starting, elections, timers), so two or three files running at once
// on a 2-core machine finish far sooner than one after another. Pure: the
// caller lists the files and reads the durations table (test/shards.json).

export interface ShardTable {
  /** Measured wall seconds per test file (refreshed by `CORRAL_TEST_DURATIONS=write npm test`). */
  seconds: Record<string, number>;
  /** Files that must not share the machine with other test files: run alone, after the shards. */
  serial: string[];
}

export interface ShardPlan {
  shards: { files: string[]; seconds: number }[];
  serial: string[];
}

/** A file missing from the table (new since the last refresh): a typical multi-process file's time. */
export const UNKNOWN_FILE_SECONDS = 5;

/**
 * Longest first, each file to the shard with the least estimated time so far
 * (ties to the lower shard; equal times by name, so the plan is the same on
 * every machine). Within a shard, files run in path order: output grouped by
 * area, and the heaviest files of different shards do not all start at once.
 */
export function planShards(files: string[], table: ShardTable, count: number): ShardPlan {
  const serialSet = new Set(table.serial);
  const serial = files.filter((f) => serialSet.has(f)).sort();
  const est = (f: string) => table.seconds[f] ?? UNKNOWN_FILE_SECONDS;
  const spread = files.filter((f) => !serialSet.has(f)).sort((a, b) => est(b) - est(a) || (a < b ? -1 : a > b ? 1 : 0));
  const shards = Array.from({ length: Math.max(1, count) }, () => ({ files: [] as string[], seconds: 0 }));
  for (const f of spread) {
    let best = shards[0]!;
    for (const s of shards) if (s.seconds < best.seconds) best = s;
    best.files.push(f);
    best.seconds += est(f);
  }
  for (const s of shards) s.files.sort();
  return { shards: shards.filter((s) => s.files.length > 0), serial };
}

/** The shard count: CORRAL_TEST_SHARDS when it is a whole number ≥ 1, else `fallback`. */
export function shardCount(env: Record<string, string | undefined>, fallback: number): number {
  const n = Number(env.CORRAL_TEST_SHARDS);
  return Number.isInteger(n) && n >= 1 ? n : fallback;
}
