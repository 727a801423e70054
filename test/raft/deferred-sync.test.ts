// A leader's own fsync off the event loop (RaftDriver's deferredSync,
// docs/raft.md "A leader's own fsync"): its new entries are written unsynced,
// and the Ready finishes when its sync completes or when its followers alone
// (a majority without it) acknowledged them. What must hold: nothing is
// applied or answered before the entry is durable on a majority, and a power
// loss of the leader before its sync completes loses nothing it applied.
import { describe, expect, test } from "bun:test";
import { Network } from "./network.ts";

const ids3 = ["a", "b", "c"];

/** Tick every running node `n` rounds, completing the syncs of `ids` after each (a disk that keeps up). */
function run(net: Network, n: number, ids: string[]): void {
  for (let i = 0; i < n; i++) {
    net.tickAll(1);
    for (const id of ids) net.completeSyncs(id);
    net.stabilize();
  }
}

/** A 3-node network with deferred syncs, `a` leading, every sync so far completed. */
function leaderA(): Network {
  const net = new Network(ids3, {}, { deferredSync: true });
  net.campaign("a");
  for (const id of ids3) net.completeSyncs(id);
  net.stabilize();
  expect(net.leaders()).toEqual(["a"]);
  return net;
}

describe("a leader's deferred sync", () => {
  test("both followers' acks commit and apply the entry while the leader's own sync is still running", () => {
    const net = leaderA();
    expect(net.propose("a", "x").ok).toBe(true);
    expect(net.syncsPending("a")).toBe(1);
    expect(net.applied("a")).toEqual(["x"]);
    net.tickAll(1);
    for (const id of ids3) expect(net.applied(id)).toEqual(["x"]);
    // Its own copy is still not durable: a power loss now loses it there, and only there.
    expect(net.storages.get("a")!.entries(1, 100).map((e) => e.data)).toContain("x");
  });

  test("with one follower cut off, the entry waits for the leader's own sync (one follower is not a majority without it)", () => {
    const net = leaderA();
    net.cut("a", "c");
    net.propose("a", "y");
    expect(net.applied("a")).toEqual([]);
    expect(net.applied("b")).toEqual([]);
    net.completeSyncs("a");
    net.stabilize();
    expect(net.applied("a")).toEqual(["y"]);
    net.tickAll(1);
    expect(net.applied("b")).toEqual(["y"]);
  });

  test("the leader's power loss before its sync completes loses nothing it applied: the followers hold it and elect one of them", () => {
    const net = leaderA();
    net.propose("a", "z1");
    net.propose("a", "z2");
    expect(net.applied("a")).toEqual(["z1", "z2"]);
    expect(net.syncsPending("a")).toBeGreaterThan(0);
    net.powerLoss("a");
    expect(net.storages.get("a")!.entries(1, 100).map((e) => e.data)).not.toContain("z1");
    run(net, 30, ["b", "c"]);
    const [leader] = net.leaders();
    expect(["b", "c"]).toContain(leader!);
    net.restart("a");
    run(net, 10, ids3);
    for (const id of ids3) expect(net.applied(id)).toEqual(["z1", "z2"]);
    for (const id of ids3) expect(net.storages.get(id)!.entries(1, 100).map((e) => e.data)).toContain("z2");
  });

  test("the restarted leader cannot win an election without the entries it lost", () => {
    const net = leaderA();
    net.propose("a", "w");
    net.powerLoss("a");
    net.restart("a");
    // a campaigns at once; b and c hold "w", a does not: neither votes for it (§5.4.1).
    net.campaign("a");
    expect(net.leaders()).not.toContain("a");
    run(net, 30, ids3);
    expect(net.leaders().length).toBe(1);
    for (const id of ids3) expect(net.applied(id)).toEqual(["w"]);
  });

  test("a single voter commits on append, so it syncs in place: nothing applied is ever only in memory", () => {
    const net = new Network(["a"], {}, { deferredSync: true });
    net.campaign("a");
    net.completeSyncs("a");
    net.stabilize();
    net.propose("a", "s");
    expect(net.applied("a")).toEqual(["s"]);
    expect(net.syncsPending("a")).toBe(0);
    net.powerLoss("a");
    expect(net.storages.get("a")!.entries(1, 100).map((e) => e.data)).toContain("s");
  });

  test("proposals made while a sync runs go out together in the next Ready (group commit)", () => {
    const net = leaderA();
    net.cut("a", "c");
    net.propose("a", "p1");
    net.propose("a", "p2");
    net.propose("a", "p3");
    expect(net.syncsPending("a")).toBe(1);
    net.completeSyncs("a");
    net.stabilize();
    expect(net.syncsPending("a")).toBe(1); // p2 and p3, written in one Ready
    net.completeSyncs("a");
    net.stabilize();
    expect(net.applied("a")).toEqual(["p1", "p2", "p3"]);
  });

  test("a failed sync stops the node: its Ready is never advanced", () => {
    const net = leaderA();
    net.cut("a", "c");
    net.propose("a", "f");
    expect(() => net.completeSyncs("a", new Error("EIO"))).toThrow("EIO");
    expect(() => net.drain("a")).toThrow("EIO");
    expect(net.applied("a")).toEqual([]);
  });
});
