// Pure pieces of core/raft: the log, quorum arithmetic, progress flow
// control, membership encoding and config validation.
import { describe, expect, test } from "bun:test";
import { resolveConfig, validateConfig } from "../../core/raft/config.ts";
import { RaftLog } from "../../core/raft/log.ts";
import { applyChange, decodeConf, encodeConf } from "../../core/raft/membership.ts";
import { Progress } from "../../core/raft/progress.ts";
import { hasQuorum, quorumMatchIndex, quorumSize, voteOutcome } from "../../core/raft/quorum.ts";
import type { Entry } from "../../core/raft/types.ts";

const ent = (index: number, term: number, data = ""): Entry => ({ index, term, type: "normal", data });
const logOf = (...terms: number[]): RaftLog => {
  const log = new RaftLog();
  log.append(terms.map((t, i) => ent(i + 1, t)));
  return log;
};

describe("RaftLog", () => {
  test("term lookups around the snapshot", () => {
    const log = logOf(1, 1, 2, 3);
    expect(log.lastIndex()).toBe(4);
    expect(log.lastTerm()).toBe(3);
    expect(log.term(0)).toBe(0);
    expect(log.term(5)).toBeUndefined();
    log.committed = log.applied = log.applying = 3;
    log.compact({ index: 2, term: 1, voters: [], data: "" });
    expect(log.firstIndex()).toBe(3);
    expect(log.term(1)).toBeUndefined(); // compacted
    expect(log.term(2)).toBe(1); // the snapshot's term
    expect(log.slice(1, 10).map((e) => e.index)).toEqual([3, 4]);
  });

  test("findConflict ignores entries we already hold (stale Appends never truncate)", () => {
    const log = logOf(1, 1, 2);
    expect(log.findConflict([ent(2, 1), ent(3, 2)])).toBe(0);
    expect(log.findConflict([ent(2, 1), ent(3, 3)])).toBe(3);
    expect(log.findConflict([ent(3, 2), ent(4, 2)])).toBe(4);
  });

  test("append truncates a conflicting suffix and refuses to touch committed entries", () => {
    const log = logOf(1, 1, 2, 2);
    log.persisted = 4;
    expect(log.append([ent(3, 3)])).toBe(true);
    expect(log.entries.map((e) => e.term)).toEqual([1, 1, 3]);
    expect(log.persisted).toBe(2); // the overwritten entry must be persisted again
    log.committed = 3;
    expect(() => log.append([ent(3, 4)])).toThrow(/committed/);
    expect(() => log.append([ent(9, 4)])).toThrow(/gap/);
  });

  test("§5.4.1 up-to-date comparison: last term first, then length", () => {
    const log = logOf(1, 2, 2);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(10, 1)).toBe(false);
  });

  test("binary searches used by the conflict hint", () => {
    const log = logOf(1, 1, 2, 2, 2, 5, 5);
    expect(log.firstIndexOfTerm(5, 2)).toBe(3);
    expect(log.firstIndexOfTerm(7, 5)).toBe(6);
    expect(log.lastIndexWithTermAtMost(7, 4)).toBe(5);
    expect(log.lastIndexWithTermAtMost(7, 2)).toBe(5);
    expect(log.lastIndexWithTermAtMost(4, 1)).toBe(2);
    expect(log.lastIndexWithTermAtMost(7, 0)).toBe(0);
  });

  test("committed entries are handed out once, bounded, and not before a pending snapshot", () => {
    const log = logOf(1, 1, 1, 1);
    log.committed = 4;
    expect(log.nextCommitted(3).map((e) => e.index)).toEqual([1, 2, 3]);
    log.applying = 3;
    expect(log.nextCommitted(3).map((e) => e.index)).toEqual([4]);
    log.restore({ index: 10, term: 2, voters: ["a"], data: "s" });
    expect(log.nextCommitted(3)).toEqual([]);
    expect(log.lastIndex()).toBe(10);
    expect(log.committed).toBe(10);
  });
});

describe("quorum", () => {
  test("majorities", () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
  });

  test("match index of a majority", () => {
    const m: Record<string, number> = { a: 5, b: 3, c: 9 };
    expect(quorumMatchIndex(["a", "b", "c"], (id) => m[id]!)).toBe(5);
    expect(quorumMatchIndex(["a", "b", "c", "d"], (id) => m[id] ?? 0)).toBe(3);
  });

  test("vote outcome counts voters only", () => {
    const votes = new Map([
      ["a", true],
      ["x", true],
      ["y", true],
    ]);
    expect(voteOutcome(["a", "b", "c"], votes)).toBe("pending");
    votes.set("b", true);
    expect(voteOutcome(["a", "b", "c"], votes)).toBe("won");
    expect(voteOutcome(["a", "b", "c"], new Map([["b", false], ["c", false]]))).toBe("lost");
    expect(hasQuorum(["a", "b", "c"], (id) => id === "a")).toBe(false);
  });
});

describe("Progress", () => {
  test("probe sends one Append at a time; replicate is bounded by the in-flight window", () => {
    const pr = new Progress(5, 2);
    expect(pr.isPaused()).toBe(false);
    pr.sentAppend(3, 7, 0);
    expect(pr.isPaused()).toBe(true);
    expect(pr.maybeUpdate(7)).toBe(true);
    pr.becomeReplicate();
    expect(pr.next).toBe(8);
    pr.sentAppend(2, 9, 0);
    pr.sentAppend(2, 11, 0);
    expect(pr.next).toBe(12);
    expect(pr.isPaused()).toBe(true);
    pr.inflights.freeLE(9);
    expect(pr.isPaused()).toBe(false);
  });

  test("stale rejections are ignored", () => {
    const pr = new Progress(10, 4);
    expect(pr.maybeDecrTo(5, 3)).toBe(false); // we did not send prevIndex 5 in probe
    expect(pr.maybeDecrTo(9, 3)).toBe(true);
    expect(pr.next).toBe(3);
    pr.maybeUpdate(6);
    pr.becomeReplicate();
    expect(pr.maybeDecrTo(6, 1)).toBe(false); // <= match
    expect(pr.maybeDecrTo(8, 1)).toBe(true);
    expect(pr.next).toBe(7);
  });
});

describe("membership", () => {
  test("conf entries carry the whole voter set", () => {
    const data = encodeConf({ type: "add", node: "d" }, ["c", "a", "b", "d"]);
    expect(decodeConf({ index: 5, term: 2, type: "conf", data }).voters).toEqual(["a", "b", "c", "d"]);
  });

  test("applyChange validates single-server changes", () => {
    expect(applyChange(["a", "b"], { type: "add", node: "c" })).toEqual(["a", "b", "c"]);
    expect(applyChange(["a", "b"], { type: "remove", node: "a" })).toEqual(["b"]);
    expect(applyChange(["a", "b"], { type: "add", node: "a" })).toMatch(/already/);
    expect(applyChange(["a"], { type: "remove", node: "a" })).toMatch(/last voter/);
    expect(applyChange(["a"], { type: "remove", node: "z" })).toMatch(/not a voter/);
  });
});

describe("config", () => {
  test("one sentence per broken rule", () => {
    const errs = validateConfig(resolveConfig({ id: "", peers: ["a", "a"], electionTicks: 2, heartbeatTicks: 3, rng: () => 0 }));
    expect(errs).toContain("id must be a non-empty string.");
    expect(errs).toContain("peers must not contain duplicates.");
    expect(errs).toContain("heartbeatTicks must be smaller than electionTicks.");
  });

  test("defaults", () => {
    const c = resolveConfig({ id: "a", peers: ["a"], electionTicks: 10, heartbeatTicks: 1, rng: () => 0 });
    expect(c.preVote).toBe(true);
    expect(c.checkQuorum).toBe(true);
    expect(validateConfig(c)).toEqual([]);
  });
});
