// A restarted follower keeps the promise it may have made before its crash
// (check-quorum lease, thesis §4.2.3): for one election timeout it helps elect
// nobody. Without this a follower killed and restarted right after answering
// a heartbeat could vote a new leader in while the old one still serves
// lease reads (core/cluster/raft/lease.ts). Issue 23.
import { describe, expect, test } from "bun:test";
import { Network } from "./network.ts";

describe("restart lease", () => {
  test("a follower restarted right after answering the leader refuses pre-votes and votes for an election timeout", () => {
    const net = new Network(["a", "b", "c"]);
    net.campaign("a");
    const term = net.node("a").status().term;
    net.tickAll(1); // a heartbeat round: b and c answer, a's lease starts
    net.crash("c");
    net.restart("c");
    // b is cut off from a (it stops hearing it) and campaigns; only the restarted c could give it a majority.
    net.cut("a", "b");
    net.campaign("b");
    expect(net.node("a").status()).toMatchObject({ role: "leader", term });
    expect(net.leaders()).toEqual(["a"]);
    expect(net.node("c").status().term).toBe(term);

    // Without pre-vote, the real vote is refused the same way.
    const noPre = new Network(["a", "b", "c"], { preVote: false });
    noPre.campaign("a");
    const t2 = noPre.node("a").status().term;
    noPre.tickAll(1);
    noPre.crash("c");
    noPre.restart("c");
    noPre.node("c").step({ type: "Vote", from: "b", to: "c", term: t2 + 1, lastIndex: 100, lastTerm: t2, transfer: false });
    expect(noPre.node("c").status()).toMatchObject({ term: t2 });
  });

  test("after an election timeout the restarted node votes again, so a cluster restarted as a whole still elects a leader", () => {
    const net = new Network(["a", "b", "c"]);
    net.campaign("a");
    net.tickAll(1);
    for (const id of ["a", "b", "c"]) net.crash(id);
    for (const id of ["a", "b", "c"]) net.restart(id);
    net.tickAll(60);
    expect(net.leaders().length).toBe(1);
  });

  test("a restarted node still votes for a leadership transfer target", () => {
    const net = new Network(["a", "b", "c"], { preVote: false });
    net.campaign("a");
    const term = net.node("a").status().term;
    net.tickAll(1);
    net.crash("c");
    net.restart("c");
    net.node("c").step({ type: "Vote", from: "b", to: "c", term: term + 1, lastIndex: 100, lastTerm: term, transfer: true });
    expect(net.node("c").status()).toMatchObject({ term: term + 1, vote: "b" });
  });
});
