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

  test("a single-node cluster serves reads at once", () => {
    const net = new Network(["solo"]);
    net.campaign("solo");
    net.node("solo").readIndex("r");
    net.stabilize();
    expect(net.readStates.get("solo")).toEqual([{ ctx: "r", index: 2 }]);
  });
});
