// Log replication (§5.3), the commit rule (§5.4.2, Figure 8) and flow control.
import { describe, expect, test } from "bun:test";
import type { AppendMsg, AppendRespMsg, Entry, Message } from "../../core/raft/index.ts";
import { Network } from "./network.ts";

const ids3 = ["a", "b", "c"];
const ids5 = ["s1", "s2", "s3", "s4", "s5"];

describe("§5.3 log replication", () => {
  test("committed entries reach every state machine in order", () => {
    const net = new Network(ids3);
    net.campaign("a");
    for (const x of ["x", "y", "z"]) expect(net.propose("a", x).ok).toBe(true);
    net.tickAll(2);
    for (const id of ids3) expect(net.applied(id)).toEqual(["x", "y", "z"]);
  });

  test("propose on a follower is refused with the leader's id", () => {
    const net = new Network(ids3);
    net.campaign("a");
    expect(net.node("b").propose("x")).toEqual({ ok: false, code: "NOT_LEADER", leader: "a" });
  });

  test("Log Matching: a follower rejects an Append whose previous entry does not match", () => {
    const net = new Network(ids3);
    const b = net.node("b");
    b.step({ type: "Append", from: "a", to: "b", term: 2, prevIndex: 1, prevTerm: 2, entries: [], commit: 0 });
    const resp = b.ready().messages[0] as AppendRespMsg;
    expect(resp).toMatchObject({ type: "AppendResp", reject: true, index: 1, conflictTerm: 1, conflictIndex: 1 });
  });

  test("conflicting uncommitted entries are truncated and replaced by the leader's (§5.3)", () => {
    const net = new Network(ids3);
    net.campaign("a");
    // a appends entries nobody else receives...
    net.isolate("a");
    net.propose("a", "lost-1");
    net.propose("a", "lost-2");
    // ...while b and c elect a new leader and commit other entries at the same indexes.
    net.tickAll(30);
    const [other] = net.leaders().filter((id) => id !== "a");
    expect(other).toBeDefined();
    net.propose(other!, "kept-1");
    net.propose(other!, "kept-2");
    net.propose(other!, "kept-3");
    net.recover();
    net.tickAll(5);
    expect(net.leaders()).toEqual([other!]);
    for (const id of ids3) expect(net.applied(id)).toEqual(["kept-1", "kept-2", "kept-3"]);
    // a's storage was truncated too, not just its memory.
    const stored = net.storages.get("a")!.entries(1, 100).map((e) => e.data);
    expect(stored).not.toContain("lost-1");
  });

  test("a stale (reordered) Append does not truncate entries the follower already holds", () => {
    const net = new Network(ids3);
    net.campaign("a");
    const term = net.node("a").status().term;
    const b = net.node("b");
    const e = (index: number, data: string): Entry => ({ index, term, type: "normal", data });
    b.step({ type: "Append", from: "a", to: "b", term, prevIndex: 2, prevTerm: term, entries: [e(3, "x"), e(4, "y")], commit: 2 });
    b.step({ type: "Append", from: "a", to: "b", term, prevIndex: 2, prevTerm: term, entries: [e(3, "x")], commit: 2 });
    expect(b.status().lastIndex).toBe(4);
  });

  test("fast back-off: a long divergent follower is repaired in a few round trips", () => {
    const net = new Network(ids3, { maxEntriesPerAppend: 1000 });
    net.campaign("a");
    net.isolate("a");
    for (let i = 0; i < 200; i++) net.node("a").propose(`old-${i}`); // 200 uncommitted entries of a's term
    net.stabilize();
    net.tick("b", 10);
    net.tick("c", 10);
    net.campaign("b");
    for (let i = 0; i < 5; i++) net.propose("b", `new-${i}`);
    net.recover();
    const before = net.delivered.length;
    net.tickAll(3);
    const rejects = net.delivered.slice(before).filter((m) => m.type === "AppendResp" && m.from === "a" && m.reject);
    expect(rejects.length).toBeLessThanOrEqual(3); // not one per divergent entry
    expect(net.applied("a")).toEqual(net.applied("b"));
  });

  test("flow control: at most maxInflightAppends unacknowledged Appends to a silent follower", () => {
    const net = new Network(ids3, { maxInflightAppends: 3, maxEntriesPerAppend: 1 });
    net.campaign("a");
    net.cutOneWay("c", "a"); // c receives but its answers are lost
    const before = net.delivered.length;
    for (let i = 0; i < 10; i++) net.node("a").propose(`p${i}`);
    net.stabilize();
    const appendsToC = net.delivered.slice(before).filter((m) => m.type === "Append" && m.to === "c");
    expect(appendsToC.length).toBe(3);
    expect(net.applied("a").length).toBe(10); // b alone makes the majority
  });

  test("streamed Appends that were lost are resent once acks stop coming, without new traffic", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.ignore("Append");
    net.node("a").propose("x"); // lost on the way to b and c
    net.stabilize();
    net.recover();
    net.tickAll(1);
    expect(net.applied("b")).toEqual([]); // in flight as far as the leader knows
    net.tickAll(2);
    expect(net.applied("b")).toEqual(["x"]);
    expect(net.applied("c")).toEqual(["x"]);
  });

  test("several entries travel in one Append, bounded by maxEntriesPerAppend", () => {
    const net = new Network(ids3, { maxEntriesPerAppend: 4 });
    net.campaign("a");
    net.isolate("c");
    for (let i = 0; i < 10; i++) net.node("a").propose(`p${i}`);
    net.stabilize();
    net.recover();
    const before = net.delivered.length;
    net.tickAll(3); // lost Appends are resent after two silent heartbeat rounds
    const sizes = net.delivered
      .slice(before)
      .filter((m): m is AppendMsg => m.type === "Append" && m.to === "c")
      .map((m) => m.entries.length);
    expect(Math.max(...sizes)).toBe(4);
    expect(net.applied("c").length).toBe(10);
  });
});

describe("§5.4.2 commit rule (Figure 8)", () => {
  test("an entry of an earlier term is not committed by counting replicas", () => {
    // Paper's Figure 8 with our no-op entries: index 2 is the entry in question.
    const net = new Network(ids5, { preVote: false, checkQuorum: false, maxEntriesPerAppend: 1 });
    // (a) s1 leads term 2 and replicates its entry (2, term 2) to s2 only.
    net.ignore("Append");
    net.campaign("s1");
    expect(net.leaders()).toEqual(["s1"]);
    net.recover();
    for (const id of ["s3", "s4", "s5"]) net.cut("s1", id);
    net.tickAll(1);
    expect(net.node("s2").termAt(2)).toBe(2);
    // (b) s1 crashes; s5 wins term 3 with s3, s4 and appends (2, term 3) locally only.
    net.crash("s1");
    net.recover();
    net.ignore("Append");
    net.campaign("s5");
    expect(net.leaders()).toEqual(["s5"]);
    expect(net.node("s5").termAt(2)).toBe(3);
    // (c) s5 crashes; s1 restarts and wins term 4 (s2, s3, s4), then
    // replicates (2, term 2) to s3: now on a majority (s1, s2, s3).
    net.crash("s5");
    net.restart("s1");
    net.campaign("s1"); // term 3: s3 and s4 already voted for s5
    net.campaign("s1"); // term 4
    expect(net.leaders()).toEqual(["s1"]);
    expect(net.node("s1").status().term).toBe(4);
    net.recover();
    net.cut("s1", "s4");
    net.tick("s1");
    const s3HasIt = () => net.node("s3").termAt(2) === 2;
    const s1 = net.node("s1");
    // Deliver one message at a time; until an entry of term 4 is on a majority, nothing past index 1 may commit.
    const majorityHasTerm4 = () => ["s2", "s3"].filter((id) => net.node(id).termAt(3) === 4).length >= 2;
    let sawReplicated = false;
    net.deliverUntil(() => {
      if (s3HasIt()) sawReplicated = true;
      if (!majorityHasTerm4()) expect(s1.status().commitIndex).toBe(1);
      return majorityHasTerm4();
    });
    expect(sawReplicated).toBe(true);
    net.stabilize();
    // (e) once its own-term entry is on a majority, both commit.
    expect(s1.status().commitIndex).toBe(3);
  });

  test("(d) why: the majority-replicated old-term entry can still be overwritten", () => {
    const net = new Network(ids5, { preVote: false, checkQuorum: false, maxEntriesPerAppend: 1 });
    net.ignore("Append");
    net.campaign("s1"); // term 2, entry (2,2) only on s1
    net.recover();
    for (const id of ["s3", "s4", "s5"]) net.cut("s1", id);
    net.tickAll(1); // (2,2) on s2
    net.crash("s1");
    net.recover();
    net.ignore("Append");
    net.campaign("s5"); // term 3, (2,3) on s5
    net.crash("s5");
    net.restart("s1");
    net.campaign("s1");
    net.campaign("s1"); // term 4
    // s1 replicates only (2,2) to s3, then crashes before its term-4 entry spreads.
    net.recover();
    net.cut("s1", "s4");
    const s1 = net.node("s1");
    net.node("s1").tick();
    net.deliverUntil(() => net.node("s3").termAt(2) === 2 && net.node("s3").status().lastIndex === 2);
    expect(s1.status().commitIndex).toBe(1);
    net.takeQueue();
    net.crash("s1");
    net.restart("s5");
    net.recover();
    net.campaign("s5"); // term 5: (2,3) is more up-to-date than (2,2)
    net.campaign("s5");
    expect(net.leaders()).toEqual(["s5"]);
    net.tickAll(3);
    for (const id of ["s2", "s3", "s4", "s5"]) expect(net.node(id).termAt(2)).toBe(3);
  });
});

describe("Ready ordering", () => {
  test("the vote is in the same Ready as the vote response, so it is persisted before sending", () => {
    const net = new Network(ids3, { preVote: false });
    net.tickAll(0);
    const msg: Message = { type: "Vote", from: "a", to: "b", term: 2, lastIndex: 1, lastTerm: 1, transfer: false };
    net.node("b").step(msg);
    const rd = net.node("b").ready();
    expect(rd.hardState).toMatchObject({ term: 2, vote: "a" });
    expect(rd.messages).toHaveLength(1);
  });

  test("a follower acks entries in the Ready that carries them for persistence", () => {
    const net = new Network(ids3);
    net.campaign("a");
    const term = net.node("a").status().term;
    const b = net.node("b");
    b.step({ type: "Append", from: "a", to: "b", term, prevIndex: 2, prevTerm: term, entries: [{ index: 3, term, type: "normal", data: "x" }], commit: 2 });
    const rd = b.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([3]);
    expect(rd.messages[0]).toMatchObject({ type: "AppendResp", index: 3 });
    b.advance(rd);
    expect(b.hasReady()).toBe(false);
  });

  test("a leader's Appends may be sent before it persists the entries they carry (thesis §10.2.1)", () => {
    const net = new Network(ids3);
    net.campaign("a");
    const a = net.node("a");
    a.propose("x");
    const rd = a.ready();
    expect(rd.entries.map((e) => e.data)).toEqual(["x"]);
    expect(rd.sendBeforePersist).toBe(2);
    const early = rd.messages.slice(0, rd.sendBeforePersist) as AppendMsg[];
    expect(early.map((m) => [m.type, m.entries.map((e) => e.data)])).toEqual([["Append", ["x"]], ["Append", ["x"]]]);
    // Their commit index covers only entries persisted before this Ready.
    for (const m of early) expect(m.commit).toBeLessThan(rd.entries[0]!.index);
  });

  test("acks and votes always wait for the persist", () => {
    const net = new Network(ids3, { preVote: false });
    net.campaign("a");
    const term = net.node("a").status().term;
    const b = net.node("b");
    b.step({ type: "Append", from: "a", to: "b", term, prevIndex: 2, prevTerm: term, entries: [{ index: 3, term, type: "normal", data: "x" }], commit: 2 });
    expect(b.ready().sendBeforePersist).toBe(0);
    const c = net.node("c");
    c.step({ type: "Vote", from: "b", to: "c", term: term + 1, lastIndex: 3, lastTerm: term, transfer: true });
    const rd = c.ready();
    expect(rd.messages.map((m) => m.type)).toEqual(["VoteResp"]);
    expect(rd.sendBeforePersist).toBe(0);
  });

  test("a leader that is its own majority does not announce a commit before persisting it", () => {
    // Removing b leaves a alone: the conf entry commits as it is appended,
    // and the Append that still goes to b carries that commit index. Sent
    // before a persisted the entry, a crash could lose an entry b applied.
    const net = new Network(["a", "b"]);
    net.campaign("a");
    const a = net.node("a");
    const r = a.proposeConfChange({ type: "remove", node: "b" });
    expect(r.ok).toBe(true);
    const rd = a.ready();
    expect(rd.committedEntries.map((e) => e.index)).toContain(rd.entries[0]!.index);
    expect(rd.messages).toContainEqual(expect.objectContaining({ type: "Append", to: "b", commit: rd.entries[0]!.index }));
    expect(rd.sendBeforePersist).toBe(0);
  });

  test("ready() twice without advance() is a programming error", () => {
    const net = new Network(ids3);
    const a = net.node("a");
    a.campaign();
    a.ready();
    expect(() => a.ready()).toThrow(/advance/);
  });

  test("a restarted node recovers term, vote and log from what it persisted", () => {
    const net = new Network(ids3);
    net.campaign("a");
    net.propose("a", "x");
    const before = net.node("b").status();
    net.crash("b");
    net.restart("b");
    const after = net.node("b").status();
    expect(after).toMatchObject({ term: before.term, vote: before.vote, lastIndex: before.lastIndex, commitIndex: before.commitIndex });
    expect(net.applied("b")).toEqual(["x"]); // replayed from the log
    net.tickAll(3);
    expect(net.leaders()).toEqual(["a"]);
  });
});
