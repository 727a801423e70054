// Snapshots and InstallSnapshot (§7), and leadership transfer (thesis §3.10).
import { describe, expect, test } from "bun:test";
import { Network } from "./network.ts";

const ids3 = ["a", "b", "c"];

describe("§7 snapshots", () => {
  test("compaction drops entries; a lagging follower is caught up with InstallSnapshot", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.isolate("c");
    for (let i = 0; i < 20; i++) net.propose("a", `p${i}`);
    const snap = net.compact("a");
    expect(snap.voters).toEqual(ids3);
    expect(net.node("a").status().firstIndex).toBe(snap.index + 1);
    net.propose("a", "after");
    net.recover();
    net.tickAll(3);
    expect(net.delivered.some((m) => m.type === "Snapshot" && m.to === "c")).toBe(true);
    expect(net.apps.get("c")!.snapshots.map((s) => s.index)).toEqual([snap.index]);
    expect(net.applied("c")).toEqual(net.applied("a"));
    expect(net.node("c").status()).toMatchObject({ snapshotIndex: snap.index, commitIndex: net.node("a").status().commitIndex });
    // The follower's storage holds the snapshot and only what follows it.
    expect(net.storages.get("c")!.snapshotIndex()).toBe(snap.index);
  });

  test("a lost snapshot is sent again", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.isolate("c");
    for (let i = 0; i < 5; i++) net.propose("a", `p${i}`);
    net.compact("a");
    net.recover();
    net.ignore("Snapshot");
    net.tickAll(5);
    net.recover();
    net.tickAll(15);
    expect(net.applied("c")).toEqual(net.applied("a"));
  });

  test("compact refuses indexes not yet applied, already compacted, or with the wrong term", () => {
    const net = new Network(ids3);
    net.campaign("a");
    const a = net.node("a");
    expect(a.compact({ index: 99, term: 2, data: "" })).toMatchObject({ ok: false, code: "INVALID_SNAPSHOT" });
    expect(a.compact({ index: 2, term: 7, data: "" }).ok).toBe(false);
    expect(a.compact({ index: 2, term: 2, data: "[]" }).ok).toBe(true);
    expect(a.compact({ index: 1, term: 1, data: "" }).ok).toBe(false);
  });

  test("a node restarts from its snapshot plus the entries after it", () => {
    const net = new Network(ids3);
    net.campaign("a");
    for (let i = 0; i < 5; i++) net.propose("a", `p${i}`);
    net.compact("b");
    net.propose("a", "later");
    net.crash("b");
    net.restart("b");
    expect(net.applied("b")).toEqual(["p0", "p1", "p2", "p3", "p4", "later"]);
  });
});

describe("leadership transfer (thesis §3.10)", () => {
  test("the target takes over without waiting for a timeout", () => {
    const net = new Network(ids3);
    net.campaign("a");
    expect(net.node("a").transferLeadership("b")).toEqual({ ok: true });
    net.stabilize();
    expect(net.leaders()).toEqual(["b"]);
    expect(net.delivered.some((m) => m.type === "TimeoutNow" && m.to === "b")).toBe(true);
  });

  test("a lagging target is caught up first; proposals are refused meanwhile", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.isolate("c");
    for (let i = 0; i < 5; i++) net.propose("a", `p${i}`);
    expect(net.node("a").transferLeadership("c")).toEqual({ ok: true });
    expect(net.node("a").propose("x")).toEqual({ ok: false, code: "TRANSFERRING" });
    expect(net.node("a").status().leadTransferee).toBe("c");
    net.recover();
    net.tickAll(1);
    expect(net.leaders()).toEqual(["c"]);
    expect(net.applied("c")).toEqual(["p0", "p1", "p2", "p3", "p4"]);
  });

  test("a transfer to an unreachable node is abandoned after an election timeout", () => {
    const net = new Network(["a", "b", "c", "d", "e"]);
    net.campaign("a");
    net.isolate("e");
    net.node("a").transferLeadership("e");
    net.tickAll(10);
    expect(net.node("a").status().leadTransferee).toBeUndefined();
    expect(net.leaders()).toEqual(["a"]);
    expect(net.propose("a", "x").ok).toBe(true);
  });

  test("voters in lease still vote for a transfer target", () => {
    const net = new Network(ids3);
    net.campaign("a");
    const term = net.node("a").status().term;
    net.node("a").transferLeadership("c");
    net.stabilize();
    expect(net.node("c").status()).toMatchObject({ role: "leader", term: term + 1 });
  });

  test("transfer to a non-voter or from a follower fails with a code", () => {
    const net = new Network(ids3);
    net.campaign("a");
    expect(net.node("a").transferLeadership("zz")).toMatchObject({ ok: false, code: "UNKNOWN_PEER" });
    expect(net.node("b").transferLeadership("c")).toMatchObject({ ok: false, code: "NOT_LEADER", leader: "a" });
  });
});
