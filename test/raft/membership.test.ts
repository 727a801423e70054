// Single-server membership changes (thesis §4.1-4.2).
import { describe, expect, test } from "bun:test";
import { decodeConf, type Entry } from "../../core/raft/index.ts";
import { Network } from "./network.ts";

const ids3 = ["a", "b", "c"];

describe("membership changes (thesis §4.1)", () => {
  test("an added node starts empty, is caught up and then counts in the quorum", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.propose("a", "x");
    net.start("d"); // joining: no peers, empty log
    expect(net.node("d").status().voters).toEqual([]);
    const res = net.node("a").proposeConfChange({ type: "add", node: "d" });
    expect(res.ok).toBe(true);
    net.tickAll(3);
    for (const id of ["a", "b", "c", "d"]) expect(net.node(id).status().voters).toEqual(["a", "b", "c", "d"]);
    expect(net.applied("d")).toEqual(["x"]);
    // With 4 voters the quorum is 3: a and one other are not enough.
    net.isolate("c");
    net.isolate("d");
    const p = net.propose("a", "y");
    expect(p.ok).toBe(true);
    expect(net.node("a").status().commitIndex).toBeLessThan((p as { index: number }).index);
    net.recover();
    net.tickAll(3); // the Appends lost to the partition are resent after two silent heartbeat rounds
    expect(net.applied("d")).toEqual(["x", "y"]);
  });

  test("a new node is caught up by snapshot when the leader compacted", () => {
    const net = new Network(ids3);
    net.campaign("a");
    for (let i = 0; i < 5; i++) net.propose("a", `p${i}`);
    net.compact("a");
    net.start("d");
    net.node("a").proposeConfChange({ type: "add", node: "d" });
    net.tickAll(3);
    expect(net.apps.get("d")!.snapshots).toHaveLength(1);
    expect(net.applied("d")).toEqual(net.applied("a"));
    expect(net.node("d").status().voters).toContain("d");
  });

  test("a node restored from a snapshot takes the snapshot's voter set", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.start("d");
    net.isolate("d");
    net.node("a").proposeConfChange({ type: "add", node: "d" }); // commits with a, b, c
    net.stabilize();
    for (let i = 0; i < 3; i++) net.propose("a", `p${i}`);
    net.compact("a"); // the snapshot covers the conf entry
    net.recover();
    net.tickAll(5);
    expect(net.apps.get("d")!.snapshots).toHaveLength(1);
    expect(net.node("d").status().voters).toEqual(["a", "b", "c", "d"]);
    net.crash("d");
    net.restart("d");
    expect(net.node("d").status().voters).toEqual(["a", "b", "c", "d"]);
  });

  test("a removed follower is no longer replicated to and cannot campaign", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.node("a").proposeConfChange({ type: "remove", node: "c" });
    net.tickAll(2);
    expect(net.node("a").status().voters).toEqual(["a", "b"]);
    expect(net.node("c").status().voters).toEqual(["a", "b"]);
    net.propose("a", "x");
    net.tickAll(50);
    expect(net.applied("c")).toEqual([]);
    expect(net.node("c").status().role).toBe("follower");
    expect(net.leaders()).toEqual(["a"]);
  });

  test("a removed leader steps down once the change commits (thesis §4.2.2)", () => {
    const net = new Network(ids3);
    net.campaign("a");
    const res = net.node("a").proposeConfChange({ type: "remove", node: "a" });
    expect(res.ok).toBe(true);
    net.stabilize();
    expect(net.node("a").status().role).toBe("follower");
    net.tickAll(30);
    const [leader] = net.leaders();
    expect(["b", "c"]).toContain(leader!);
    expect(net.node(leader!).status().voters).toEqual(["b", "c"]);
    expect(net.propose(leader!, "x").ok).toBe(true);
    expect(net.applied("b")).toEqual(["x"]);
  });

  test("one change at a time, and only after the leader committed an entry of its term", () => {
    const net = new Network(ids3);
    net.ignore("Append");
    net.campaign("a");
    expect(net.node("a").proposeConfChange({ type: "add", node: "d" })).toMatchObject({ ok: false, code: "CONF_CHANGE_PENDING" });
    net.recover();
    net.tickAll(1);
    net.isolate("a");
    expect(net.node("a").proposeConfChange({ type: "add", node: "d" }).ok).toBe(true);
    expect(net.node("a").proposeConfChange({ type: "add", node: "e" })).toMatchObject({ ok: false, code: "CONF_CHANGE_PENDING" });
    expect(net.node("a").proposeConfChange({ type: "remove", node: "zz" })).toMatchObject({ ok: false, code: "CONF_CHANGE_PENDING" });
  });

  test("an uncommitted conf entry that is truncated away reverts the configuration", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.isolate("a");
    net.node("a").proposeConfChange({ type: "add", node: "d" });
    net.stabilize();
    expect(net.node("a").status().voters).toEqual(["a", "b", "c", "d"]); // effective on append
    net.tickAll(30); // b or c takes over; a steps down (check-quorum)
    net.recover();
    net.tickAll(5);
    expect(net.node("a").status().voters).toEqual(ids3);
    const confs = net.storages.get("a")!.entries(1, 100).filter((e: Entry) => e.type === "conf");
    expect(confs.map((e) => decodeConf(e).voters)).toEqual([ids3]);
  });

  test("a node outside its uncommitted latest config still campaigns: it may hold the only up-to-date log (thesis §4.1)", () => {
    // Found by the simulator (seed 177 before the fix): deadlock otherwise.
    const net = new Network(["a", "b"]);
    net.campaign("a");
    net.isolate("a");
    expect(net.node("a").proposeConfChange({ type: "remove", node: "a" }).ok).toBe(true);
    net.tickAll(30); // a loses leadership (check-quorum); b cannot win without a's vote
    expect(net.leaders()).toEqual([]);
    expect(net.node("a").status().voters).toEqual(["b"]);
    net.recover();
    net.tickAll(60);
    // a won (with b's vote only), committed its removal, stepped down; b leads alone.
    expect(net.leaders()).toEqual(["b"]);
    expect(net.node("b").status().voters).toEqual(["b"]);
    expect(net.propose("b", "x").ok).toBe(true);
    expect(net.applied("b")).toEqual(["x"]);
  });

  test("a node that knows its removal is committed never campaigns", () => {
    const net = new Network(["a", "b", "c"]);
    net.campaign("a");
    net.node("a").proposeConfChange({ type: "remove", node: "c" });
    net.tickAll(3);
    expect(net.node("c").status()).toMatchObject({ voters: ["a", "b"], commitIndex: net.node("a").status().commitIndex });
    const before = net.delivered.length;
    net.tickAll(100); // c hears nothing any more, its timer fires again and again
    expect(net.delivered.slice(before).filter((m) => m.from === "c")).toEqual([]);
  });

  test("invalid changes are refused", () => {
    const net = new Network(ids3);
    net.campaign("a");
    expect(net.node("a").proposeConfChange({ type: "add", node: "b" })).toMatchObject({ ok: false, code: "INVALID_CONF_CHANGE" });
    expect(net.node("b").proposeConfChange({ type: "add", node: "x" })).toMatchObject({ ok: false, code: "NOT_LEADER" });
  });
});
