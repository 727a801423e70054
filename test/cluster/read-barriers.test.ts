// The replicator's waiting lists (core/cluster/raft/reads.ts): a read index
// round releases its read once applied; a write a follower forwarded waits
// until this replica applied it too, or gives up after its bound.
import { describe, expect, test } from "bun:test";
import { ReadBarriers } from "../../core/cluster/raft/reads.ts";
import { ReplicationError } from "../../core/state/replicator.ts";

describe("ReadBarriers", () => {
  test("untilApplied: at once when already applied, on the apply that reaches it, false after the bound", async () => {
    let applied = 5;
    const b = new ReadBarriers(() => applied);
    expect(await b.untilApplied(5, 10)).toBe(true);
    const later = b.untilApplied(8, 1000);
    const t0 = performance.now();
    applied = 7;
    b.applied();
    await Bun.sleep(5);
    applied = 8;
    b.applied();
    expect(await later).toBe(true);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(await b.untilApplied(100, 20)).toBe(false);
    // The timed-out waiter is gone: a later apply releases nothing twice and throws nothing.
    applied = 100;
    b.applied();
  });

  test("a read waits for its quorum round, then for the apply of the index it was given", async () => {
    let applied = 1;
    const b = new ReadBarriers(() => applied);
    let ctx = "";
    let done = false;
    const read = b.wait((c) => void (ctx = c), 1000).then(() => (done = true));
    b.confirmed(ctx, 3);
    await Bun.sleep(5);
    expect(done).toBe(false);
    applied = 3;
    b.applied();
    await read;
    expect(done).toBe(true);
    const refused = b.wait(() => new ReplicationError("NOT_LEADER", "not the leader"), 1000);
    await expect(refused).rejects.toThrow("not the leader");
  });
});
