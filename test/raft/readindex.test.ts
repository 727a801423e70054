// Linearizable reads with ReadIndex (thesis §6.4).
import { describe, expect, test } from "bun:test";
import { Network } from "./network.ts";

const ids3 = ["a", "b", "c"];

describe("ReadIndex (thesis §6.4)", () => {
  test("the leader confirms leadership with a heartbeat round, then releases the read at its commit index", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.propose("a", "x");
    const commit = net.node("a").status().commitIndex;
    expect(net.node("a").readIndex("r1")).toEqual({ ok: true });
    expect(net.readStates.get("a")).toEqual([]); // not before the round
    net.stabilize();
    expect(net.readStates.get("a")).toEqual([{ ctx: "r1", index: commit }]);
  });

  test("a deposed leader cut off from the majority never releases the read", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.isolate("a");
    net.node("a").readIndex("stale");
    net.tickAll(40);
    expect(net.readStates.get("a")).toEqual([]);
  });

  test("a read before the new leader committed its no-op waits for that commit", () => {
    const net = new Network(ids3);
    net.ignore("Append");
    net.campaign("a");
    net.node("a").readIndex("early");
    net.stabilize();
    expect(net.readStates.get("a")).toEqual([]);
    net.recover();
    net.tickAll(1);
    expect(net.readStates.get("a")).toEqual([{ ctx: "early", index: 2 }]);
  });

  test("followers answer NOT_LEADER with a hint; the driver forwards", () => {
    const net = new Network(ids3);
    net.campaign("a");
    expect(net.node("b").readIndex("r")).toEqual({ ok: false, code: "NOT_LEADER", leader: "a" });
  });

  test("pending reads are bounded", () => {
    const net = new Network(ids3, { maxPendingReads: 2 });
    net.campaign("a");
    net.isolate("a");
    net.node("a").readIndex("1");
    net.node("a").readIndex("2");
    expect(net.node("a").readIndex("3")).toMatchObject({ ok: false, code: "BUSY" });
  });

  test("concurrent reads share one heartbeat round (batched, like etcd's read loop)", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.propose("a", "x");
    const before = net.delivered.length;
    for (let i = 0; i < 10; i++) expect(net.node("a").readIndex(`r${i}`)).toEqual({ ok: true });
    net.stabilize();
    expect(net.readStates.get("a")!.map((s) => s.ctx)).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
    const heartbeats = net.delivered.slice(before).filter((m) => m.type === "Heartbeat");
    expect(heartbeats.length).toBe(2); // one round: one heartbeat to each follower, not one per read
  });

  test("a read that arrives while a round is out waits for the next round", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.propose("a", "x");
    net.node("a").readIndex("first");
    net.drain("a");
    const round1 = net.takeQueue();
    expect(round1.filter((m) => m.type === "Heartbeat").length).toBe(2);
    net.node("a").readIndex("second");
    net.drain("a");
    expect(net.takeQueue()).toEqual([]); // no second broadcast while the first round is out
    for (const m of round1) net.inject(m);
    const released = () => net.readStates.get("a")!.map((s) => s.ctx);
    expect(net.deliverUntil(() => released().includes("first"))).toBe(true);
    // The quorum answered a round sent before "second" arrived: it proves nothing for it.
    expect(released()).toEqual(["first"]);
    net.stabilize(); // the answer started the next round
    expect(released()).toEqual(["first", "second"]);
  });

  test("a lost round is made good by the next periodic heartbeat", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.propose("a", "x");
    net.node("a").readIndex("r");
    net.drain("a");
    net.takeQueue(); // the round's heartbeats are lost
    net.stabilize();
    expect(net.readStates.get("a")).toEqual([]);
    net.tickAll(1); // heartbeatTicks = 1
    expect(net.readStates.get("a")!.map((s) => s.ctx)).toEqual(["r"]);
  });

  test("a single-node cluster serves reads at once", () => {
    const net = new Network(["solo"]);
    net.campaign("solo");
    net.node("solo").readIndex("r");
    net.stabilize();
    expect(net.readStates.get("solo")).toEqual([{ ctx: "r", index: 2 }]);
  });
});
