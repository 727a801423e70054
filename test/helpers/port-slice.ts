// When `npm test` runs the suite as concurrent shards (test/run.ts), each
// shard's bun process picks its loopback ports with freePort() at random
// from the same range. A port picked by one shard but not yet bound (a node
// still starting, a node restarted on its old port, a port a test keeps as
// "dead") could be picked by another shard at the same moment. So each shard
// gets its own residue class: shard i of n only picks ports p with
// p % n === i. Pure: the caller passes the environment.

/** The shard's slice as { index, count }, from CORRAL_TEST_SHARD="i/n"; one slice (all ports) when unset or malformed. */
export function portSlice(env: Record<string, string | undefined>): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(env.CORRAL_TEST_SHARD ?? "");
  if (!m) return { index: 0, count: 1 };
  const index = Number(m[1]);
  const count = Number(m[2]);
  return count >= 1 && index < count ? { index, count } : { index: 0, count: 1 };
}

/** Whether `port` belongs to the slice. */
export function inSlice(port: number, slice: { index: number; count: number }): boolean {
  return port % slice.count === slice.index;
}

/** A random port of [low, high) in the slice (`random` in [0, 1)). */
export function pickInSlice(low: number, high: number, slice: { index: number; count: number }, random: number): number {
  // The slice's first member at or above low, then a whole number of steps of `count`.
  const first = low + ((slice.index - (low % slice.count) + slice.count) % slice.count);
  const members = Math.max(1, Math.ceil((high - first) / slice.count));
  return first + Math.floor(random * members) * slice.count;
}
