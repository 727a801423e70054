// Leader election (§5.2), the voting restriction (§5.4.1), pre-vote
// (thesis §9.6), check-quorum and the leader lease (thesis §6.2, §4.2.3).
import { describe, expect, test } from "bun:test";
import type { Message } from "../../core/raft/index.ts";
import { Network } from "./network.ts";

const ids3 = ["a", "b", "c"];
const ids5 = ["a", "b", "c", "d", "e"];

describe("§5.2 leader election", () => {
  test("a follower that hears nothing times out, wins a majority and becomes leader", () => {
    const net = new Network(ids3);
    // The randomized timeout lies in [10, 20): after 20 ticks someone has campaigned.
    net.tick("a", 20);
    net.stabilize();
    expect(net.leaders()).toEqual(["a"]);
    const st = net.node("a").status();
    expect(st.term).toBe(2);
    // Every node accepts the leader of the new term.
    for (const id of ["b", "c"]) expect(net.node(id).status()).toMatchObject({ term: 2, leader: "a", role: "follower" });
  });

  test("a single-node cluster elects itself", () => {
    const net = new Network(["solo"]);
    net.tick("solo", 20);
    expect(net.leaders()).toEqual(["solo"]);
    const res = net.propose("solo", "x");
    expect(res.ok).toBe(true);
    expect(net.applied("solo")).toEqual(["x"]);
  });

  test("the new leader commits a no-op of its term (thesis §6.4)", () => {
    const net = new Network(ids3);
    net.campaign("a");
    const st = net.node("a").status();
    expect(st.commitIndex).toBe(2);
    expect(net.node("a").termAt(2)).toBe(st.term);
  });

  test("a candidate without a majority does not become leader, and nobody else does", () => {
    const net = new Network(ids5);
    net.isolate("a");
    net.cut("b", "c");
    net.cut("b", "d");
    net.cut("b", "e");
    net.campaign("a");
    expect(net.leaders()).toEqual([]);
    expect(net.node("a").status().role).toBe("precandidate");
  });

  test("each node grants at most one vote per term (§5.2)", () => {
    const net = new Network(ids3, { preVote: false, checkQuorum: false });
    const vote = (from: string): Message => ({ type: "Vote", from, to: "c", term: 5, lastIndex: 1, lastTerm: 1, transfer: false });
    net.node("c").step(vote("a"));
    net.node("c").step(vote("b"));
    net.node("c").step(vote("a")); // a retransmission is granted again
    const rd = net.node("c").ready();
    expect(rd.hardState).toEqual({ term: 5, vote: "a", commit: 1 });
    expect(rd.messages.map((m) => [m.to, (m as { reject: boolean }).reject])).toEqual([
      ["a", false],
      ["b", true],
      ["a", false],
    ]);
  });

  test("split votes resolve: with randomized timeouts a leader emerges", () => {
    const net = new Network(ids5);
    net.tickAll(200);
    expect(net.leaders().length).toBe(1);
  });
});

describe("election timer (Figure 2)", () => {
  test("a rejected higher-term vote request updates the term but does not restart the timer", () => {
    const net = new Network(ids3, { preVote: false, checkQuorum: false });
    net.campaign("a");
    net.isolate("b");
    net.tick("b", 9);
    // A stale candidate: b adopts its term, refuses the vote, keeps counting.
    net.node("b").step({ type: "Vote", from: "c", to: "b", term: 50, lastIndex: 1, lastTerm: 1, transfer: false });
    expect(net.node("b").status()).toMatchObject({ term: 50, vote: null });
    net.tick("b", 11); // 20 ticks in all: past any randomized timeout in [10, 20)
    expect(net.node("b").status().term).toBeGreaterThan(50); // it campaigned
  });
});

describe("§5.4.1 election restriction", () => {
  test("a voter rejects a candidate whose log is less up-to-date", () => {
    const net = new Network(ids3, { preVote: false, checkQuorum: false });
    net.campaign("a");
    net.isolate("c");
    net.propose("a", "x"); // a and b have it, c does not
    net.recover();
    const c = net.node("c");
    c.campaign(); // c's last entry is older
    net.stabilize();
    expect(net.node("c").status().role).not.toBe("leader");
    const rejects = net.delivered.filter((m) => m.type === "VoteResp" && m.to === "c" && m.reject);
    expect(rejects.map((m) => m.from).sort()).toEqual(["a", "b"]);
    // Whoever wins holds the committed entry.
    net.tickAll(50);
    const [leader] = net.leaders();
    expect(leader).not.toBe("c");
  });

  test("a longer log of an older term loses to a shorter log of a newer term", () => {
    const net = new Network(ids3, { preVote: false, checkQuorum: false });
    const vote = (lastIndex: number, lastTerm: number): Message => ({ type: "Vote", from: "a", to: "b", term: 9, lastIndex, lastTerm, transfer: false });
    net.node("b").step(vote(50, 0)); // b's last entry is (1, term 1)
    net.node("b").step({ ...vote(1, 1), term: 10 });
    const msgs = net.node("b").ready().messages as { reject: boolean }[];
    expect(msgs.map((m) => m.reject)).toEqual([true, false]);
  });
});

describe("pre-vote (thesis §9.6)", () => {
  test("a partitioned node does not inflate its term and does not disrupt the leader on return", () => {
    const net = new Network(ids3);
    net.campaign("a");
    const term = net.node("a").status().term;
    net.isolate("c");
    net.tickAll(100); // c keeps pre-voting in vain
    expect(net.node("c").status().term).toBe(term);
    expect(["precandidate", "follower"]).toContain(net.node("c").status().role);
    net.recover();
    net.tickAll(30);
    expect(net.leaders()).toEqual(["a"]);
    expect(net.node("a").status().term).toBe(term);
    expect(net.node("c").status()).toMatchObject({ term, leader: "a" });
  });

  test("without pre-vote the same partition bumps terms and deposes the leader", () => {
    const net = new Network(ids3, { preVote: false, checkQuorum: false });
    net.campaign("a");
    const term = net.node("a").status().term;
    net.isolate("c");
    net.tickAll(100);
    expect(net.node("c").status().term).toBeGreaterThan(term);
    net.recover();
    net.tickAll(1);
    expect(net.node("a").status().term).toBeGreaterThan(term);
  });

  test("pre-vote does not change the voter's term or vote", () => {
    const net = new Network(ids3);
    net.tickAll(0);
    net.node("b").step({ type: "PreVote", from: "a", to: "b", term: 2, lastIndex: 1, lastTerm: 1 });
    const rd = net.node("b").ready();
    expect(rd.hardState).toBeUndefined();
    expect(rd.messages[0]).toMatchObject({ type: "PreVoteResp", term: 2, reject: false });
  });
});

describe("check-quorum and leader lease", () => {
  test("a leader that cannot reach a majority steps down within an election timeout (thesis §6.2)", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.isolate("a");
    net.tick("a", 10);
    expect(net.node("a").status().role).toBe("leader");
    net.tick("a", 10);
    expect(net.node("a").status()).toMatchObject({ role: "follower", leader: undefined });
  });

  test("a leader that hears from a majority stays", () => {
    const net = new Network(ids5);
    net.campaign("a");
    net.isolate("d");
    net.isolate("e");
    net.tickAll(50);
    expect(net.node("a").status().role).toBe("leader");
  });

  test("followers in lease ignore vote requests of a higher term (thesis §4.2.3)", () => {
    const net = new Network(ids3, { preVote: false });
    net.campaign("a");
    const term = net.node("a").status().term;
    net.node("b").step({ type: "Vote", from: "c", to: "b", term: term + 5, lastIndex: 100, lastTerm: 100, transfer: false });
    expect(net.node("b").status().term).toBe(term);
    expect(net.node("b").hasReady()).toBe(false); // not even an answer
    // Once the lease expired (no leader contact for an election timeout), the vote counts.
    net.isolate("b");
    net.tick("b", 10);
    net.node("b").step({ type: "Vote", from: "c", to: "b", term: term + 5, lastIndex: 100, lastTerm: 100, transfer: false });
    expect(net.node("b").status()).toMatchObject({ term: term + 5, vote: "c" });
  });

  test("a node with a higher term makes a stale leader step down via its answer (§5.1)", () => {
    const net = new Network(ids3);
    net.campaign("a");
    const term = net.node("a").status().term;
    net.node("c").step({ type: "Heartbeat", from: "x", to: "c", term: term + 3, commit: 0, readSeq: 0 });
    net.takeQueue(); // drop c's answer to the imaginary x
    net.tickAll(1); // a's heartbeat reaches c, whose answer carries term+3
    expect(net.node("a").status().role).toBe("follower");
    net.tickAll(60);
    expect(net.leaders().length).toBe(1);
    expect(net.node(net.leaders()[0]!).status().term).toBeGreaterThan(term + 3);
  });
});
