// The bounded simulator run for `npm test`, the regression seeds, and
// checks that the simulator itself is deterministic and that its checkers bite.
// Longer runs: npx bun run sim --seeds 10000 --start 1
import { describe, expect, test } from "bun:test";
import { SafetyChecker } from "./checker.ts";
import { REGRESSIONS } from "./regressions.ts";
import { runSeed, Simulation } from "./sim.ts";
import { describeSwarm } from "./swarm.ts";

// Each seed runs the real driver, SQLite storage and FSM: about 5x the cost
// of the toy key/value application it once ran, hence fewer seeds here.
const SEEDS = 120;
const FIRST_SEED = 100_001; // away from the seeds used while developing

function assertOk(seed: number): void {
  const res = runSeed(seed);
  if (!res.ok) throw new Error(`seed ${seed} failed (${describeSwarm(res.swarm)}): ${res.failure}\nreplay: npx bun test/sim/cli.ts --seed ${seed} --verbose`);
}

describe("simulator", () => {
  test(`${SEEDS} seeds under faults keep every safety property, then recover`, () => {
    const t0 = performance.now();
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) assertOk(seed);
    console.log(`sim: ${SEEDS} seeds in ${Math.round(performance.now() - t0)} ms`);
  }, 300_000);

  for (const r of REGRESSIONS) {
    test(`regression seed ${r.seed}: ${r.name}`, () => assertOk(r.seed));
  }

  test("a seed replays exactly", () => {
    const a = new Simulation(4242);
    const b = new Simulation(4242);
    const ra = a.run();
    const rb = b.run();
    expect(rb.stats).toEqual(ra.stats);
    expect(b.clients.history).toEqual(a.clients.history);
  });
});

describe("safety checker", () => {
  const noop = { index: 1, term: 1, type: "normal" as const, data: "x" };

  test("State Machine Safety: different entries applied at one index", () => {
    const c = new SafetyChecker();
    c.onApply("a", noop, 1, 1);
    c.onApply("b", { ...noop, term: 2 }, 1, 2);
    expect(c.violation).toMatch(/State Machine Safety/);
  });

  test("Log Matching: two entries with the same index and term", () => {
    const c = new SafetyChecker();
    c.onPersist("a", [{ ...noop, data: "x" }], 0, 0);
    c.onPersist("b", [{ ...noop, data: "y" }], 0, 0);
    expect(c.violation).toMatch(/Log Matching/);
  });

  test("Leader Completeness at commit: a server lacking a committed entry must not be electable", () => {
    const view = (id: string, lastIndex: number, lastTerm: number, has: boolean) => ({ id, lastIndex, lastTerm, has: () => has });
    // Figure 8 (c): (2, term 2) on s1-s3, but s5 (last term 3) gets s3's and s4's votes.
    const bad = new SafetyChecker();
    bad.checkElectable(2, 2, [view("s1", 3, 4, true), view("s2", 3, 4, true), view("s3", 2, 2, true), view("s4", 1, 1, false), view("s5", 2, 3, false)]);
    expect(bad.violation).toMatch(/Leader Completeness: committed entry 2 \(term 2\) is missing on s5/);
    // Committed the right way (an entry of term 4 on a majority): nobody without it can win.
    const good = new SafetyChecker();
    good.checkElectable(2, 2, [view("s1", 3, 4, true), view("s2", 3, 4, true), view("s3", 3, 4, true), view("s4", 1, 1, false), view("s5", 2, 3, false)]);
    expect(good.violation).toBeUndefined();
  });

  test("a node may not persist over what it knows is committed, but a lagging one may hold stale entries", () => {
    const c = new SafetyChecker();
    c.onApply("a", { ...noop, term: 3 }, 1, 3);
    c.onPersist("b", [{ ...noop, term: 2, data: "old" }], 0, 0);
    expect(c.violation).toBeUndefined();
    c.onPersist("c", [{ ...noop, term: 2, data: "old" }], 0, 1);
    expect(c.violation).toMatch(/committed entry changed/);
  });
});
