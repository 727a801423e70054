// A Ready that only commits and applies sends its messages after the answers
// (driver.ts sendAfterAnswer; core/cluster/raft/answer-first.ts keeps them in
// order behind a real transport), while a Ready with new entries still sends
// its Appends before persisting them (thesis §10.2.1). Both on the real driver
// and RaftNode: the leader of three, whose followers' answers are stepped by hand.
import { describe, expect, test } from "bun:test";
import { MemoryStorage, RaftDriver, RaftNode, type DriverStateMachine, type Entry, type Message } from "../../core/raft/index.ts";
import { AnswerFirstTransport } from "../../core/cluster/raft/answer-first.ts";
import { mulberry32 } from "../sim/prng.ts";

interface Sent {
  how: "send" | "after-answer";
  msgs: Message[];
  /** Whether the storage held the Ready's entries when they were handed over. */
  persistedAt: number;
}

function leaderOfThree(withHold: boolean) {
  const storage = new MemoryStorage();
  const node = new RaftNode({ id: "a", peers: ["a", "b", "c"], electionTicks: 10, heartbeatTicks: 1, rng: mulberry32(1).next, preVote: false });
  const sent: Sent[] = [];
  const applied: string[] = [];
  const sm: DriverStateMachine<Entry> = {
    restore() {},
    apply: (e) => {
      if (e.type === "normal") applied.push(e.data);
      return e;
    },
    published() {},
    rolledBack() {},
    snapshotData: () => "[]",
  };
  const transport = {
    send: (msgs: Message[]) => sent.push({ how: "send", msgs, persistedAt: storage.lastIndex() }),
    ...(withHold ? { sendAfterAnswer: (msgs: Message[]) => sent.push({ how: "after-answer", msgs, persistedAt: storage.lastIndex() }) } : {}),
  };
  const driver = new RaftDriver({ node, storage, transport, stateMachine: sm });
  driver.drain();
  node.campaign();
  driver.drain();
  const term = node.status().term;
  node.step({ type: "VoteResp", from: "b", to: "a", term, reject: false });
  driver.drain();
  // The election's no-op: acknowledged by b, committed.
  const ack = (index: number) => node.step({ type: "AppendResp", from: "b", to: "a", term, reject: false, index, conflictTerm: 0, conflictIndex: 0 });
  ack(storage.lastIndex());
  driver.drain();
  sent.length = 0;
  return { node, driver, storage, sent, applied, ack };
}

describe("answer first: commit-only Readies send after the answers", () => {
  test("a write's Appends go before its persist; the commit's Appends go after the answer, once it is applied", () => {
    const { node, driver, storage, sent, applied, ack } = leaderOfThree(true);
    const r = node.propose("w1");
    if (!r.ok) throw new Error("not leader");
    driver.drain();
    // The new entry's Appends: by send(), before the entry was stored (parallel with the followers).
    const appends = sent.filter((s) => s.msgs.some((m) => m.type === "Append" && m.entries.some((e) => e.index === r.index)));
    expect(appends.length).toBe(1);
    expect(appends[0]!.how).toBe("send");
    expect(appends[0]!.persistedAt).toBeLessThan(r.index);
    sent.length = 0;
    ack(r.index);
    driver.drain();
    expect(applied).toEqual(["w1"]);
    // The commit's Appends: held for after the answer, and only them.
    expect(sent.length).toBe(1);
    expect(sent[0]!.how).toBe("after-answer");
    // (c never answered: it is probed, so only b hears of the commit now.)
    expect(sent[0]!.msgs.map((m) => [m.type, m.to, (m as { commit?: number }).commit])).toEqual([["Append", "b", r.index]]);
    expect(storage.lastIndex()).toBe(r.index);
  });

  test("without sendAfterAnswer the driver sends them as before", () => {
    const { node, driver, sent, ack } = leaderOfThree(false);
    const r = node.propose("w1");
    if (!r.ok) throw new Error("not leader");
    driver.drain();
    sent.length = 0;
    ack(r.index);
    driver.drain();
    expect(sent.map((s) => s.how)).toEqual(["send"]);
    expect(sent[0]!.msgs.some((m) => m.type === "Append" && m.commit === r.index)).toBe(true);
  });
});

describe("AnswerFirstTransport", () => {
  const msg = (n: number): Message => ({ type: "Heartbeat", from: "a", to: "b", term: n, commit: 0, readSeq: 0 });

  function inner() {
    const got: number[][] = [];
    return { got, t: { send: (ms: Message[]) => got.push(ms.map((m) => m.term)), close() {} } };
  }

  test("holds until the next turn of the event loop, after pending microtasks (the answers)", async () => {
    const { got, t } = inner();
    const af = new AnswerFirstTransport(t);
    af.sendAfterAnswer([msg(1)]);
    af.sendAfterAnswer([msg(2)]);
    let answered = false;
    let sentWhenAnswered: number[][] = [];
    Promise.resolve().then(() => {
      answered = true;
      sentWhenAnswered = [...got];
    });
    expect(got).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(true);
    expect(sentWhenAnswered).toEqual([]);
    expect(got).toEqual([[1, 2]]);
  });

  test("anything sent later goes after what is held (a stream keeps Raft's order)", async () => {
    const { got, t } = inner();
    const af = new AnswerFirstTransport(t);
    af.sendAfterAnswer([msg(1)]);
    af.send([msg(2)]);
    expect(got).toEqual([[1], [2]]);
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([[1], [2]]);
  });

  test("closed: what is held is dropped, as a dying process drops it", async () => {
    const { got, t } = inner();
    const af = new AnswerFirstTransport(t);
    af.sendAfterAnswer([msg(1)]);
    af.close();
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([]);
  });
});
