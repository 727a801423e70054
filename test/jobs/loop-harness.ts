// A real scheduling loop over a test state (fixtures.ts), for the tests that
// count what the loop reads: `start(state)` runs it over a reader the test
// wraps (counting calls), fed by the state's applied entries; stopped and
// closed after each test.
import { afterEach } from "bun:test";
import { EventBus } from "../../core/events.ts";
import { silentLogger } from "../../core/log.ts";
import { SchedulingLoop } from "../../core/cluster/scheduling/loop.ts";
import type { Command } from "../../core/state/commands.ts";
import type { StateReader } from "../../core/state/reader.ts";
import { testState, type TestState } from "./fixtures.ts";

export function loopHarness() {
  let t: TestState | undefined;
  let loop: SchedulingLoop | undefined;
  afterEach(async () => {
    loop?.stop();
    loop = undefined;
    await t?.close();
    t = undefined;
  });
  return {
    async state(): Promise<TestState> {
      t = await testState();
      return t;
    },
    /** Starts the loop over `state` (the test state's reader, wrapped), isLeader, no preemption, a slow watch tick. */
    start(tt: TestState, state: StateReader): SchedulingLoop {
      const bus = new EventBus();
      tt.fsm.onApplied((e) => bus.publish("applied", e));
      loop = new SchedulingLoop({ state, propose: (c: Command) => tt.raft.propose(c), isLeader: () => true, bus, log: silentLogger, preemption: false, watchIntervalMs: 60_000 });
      loop.start();
      return loop;
    },
  };
}
