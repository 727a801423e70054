// The RaftStorage contract (core/raft/storage.ts) as one suite, run against
// every implementation (storage-contract.test.ts: MemoryStorage and the
// SQLite storage). `reopen` gives what a restarted process would see.
import { expect, test } from "bun:test";
import type { Entry, RaftStorage, Snapshot } from "../../core/raft/index.ts";

export interface StorageUnderTest {
  storage: RaftStorage;
  /** The same durable state, as a new process would open it. */
  reopen(): RaftStorage;
  close(): void;
}

const ent = (index: number, term: number, data = `e${index}t${term}`): Entry => ({ index, term, type: "normal", data });
const range = (from: number, to: number, term: number): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => ent(from + i, term));
const snap = (index: number, term: number): Snapshot => ({ index, term, voters: ["a", "b"], data: `state@${index}` });
const hs = (term: number, commit = 0, vote: string | null = null) => ({ term, vote, commit });

export function storageContract(name: string, open: () => Promise<StorageUnderTest> | StorageUnderTest): void {
  const withStorage = (title: string, fn: (s: StorageUnderTest) => void) =>
    test(`${name}: ${title}`, async () => {
      const s = await open();
      try {
        fn(s);
      } finally {
        s.close();
      }
    });

  withStorage("nothing saved: load() is undefined, reads are empty", ({ storage }) => {
    expect(storage.load()).toBeUndefined();
    expect(storage.lastIndex()).toBe(0);
    expect(storage.snapshotIndex()).toBe(0);
    expect(storage.snapshot()).toBeUndefined();
    expect(storage.term(0)).toBe(0);
    expect(storage.term(1)).toBeUndefined();
    expect(storage.entries(1, 10)).toEqual([]);
  });

  withStorage("a save is what load() returns, after a reopen too", (s) => {
    s.storage.atomically(true, () => s.storage.save({ entries: range(1, 3, 1), hardState: hs(1, 2, "a") }));
    const want = { hardState: hs(1, 2, "a"), entries: range(1, 3, 1) };
    expect(s.storage.load()).toMatchObject(want);
    expect(s.reopen().load()).toMatchObject(want);
    expect(s.storage.lastIndex()).toBe(3);
    expect(s.storage.term(2)).toBe(1);
    expect(s.storage.entries(2, 9)).toEqual(range(2, 3, 1));
  });

  withStorage("entries without a hard state ever saved are not a Raft state: load() stays undefined", (s) => {
    s.storage.atomically(true, () => s.storage.save({ entries: range(1, 2, 1) }));
    expect(s.reopen().load()).toBeUndefined();
  });

  withStorage("a hard state alone is saved (a vote before any entry)", (s) => {
    s.storage.atomically(true, () => s.storage.save({ entries: [], hardState: hs(3, 0, "b") }));
    expect(s.reopen().load()).toMatchObject({ hardState: hs(3, 0, "b"), entries: [] });
  });

  withStorage("entries overwrite every stored entry from their first index on (§5.3)", (s) => {
    s.storage.atomically(true, () => s.storage.save({ entries: range(1, 5, 1), hardState: hs(1) }));
    s.storage.atomically(true, () => s.storage.save({ entries: [ent(3, 2)] }));
    expect(s.reopen().load()!.entries).toEqual([...range(1, 2, 1), ent(3, 2)]);
    expect(s.storage.lastIndex()).toBe(3);
    expect(s.storage.term(4)).toBeUndefined();
  });

  withStorage("a gap or an entry inside the snapshot is refused, and nothing of that save is kept", (s) => {
    s.storage.atomically(true, () => s.storage.save({ entries: range(1, 2, 1), hardState: hs(1) }));
    expect(() => s.storage.atomically(true, () => s.storage.save({ entries: [ent(4, 1)], hardState: hs(9) }))).toThrow(/gap/);
    expect(s.reopen().load()).toMatchObject({ hardState: hs(1), entries: range(1, 2, 1) });
    s.storage.atomically(true, () => s.storage.save({ entries: [], snapshot: snap(5, 2) }));
    expect(() => s.storage.atomically(true, () => s.storage.save({ entries: [ent(5, 2)] }))).toThrow(/inside the snapshot/);
    expect(s.reopen().load()!.entries).toEqual([]);
  });

  withStorage("a snapshot from the leader replaces the snapshot and every entry; entries may follow it", (s) => {
    s.storage.atomically(true, () => s.storage.save({ entries: range(1, 8, 1) }));
    s.storage.atomically(true, () => s.storage.save({ snapshot: snap(5, 2), entries: [ent(6, 2)], hardState: hs(2, 5) }));
    const st = s.reopen().load()!;
    expect(st.snapshot).toEqual(snap(5, 2));
    expect(st.entries).toEqual([ent(6, 2)]);
    expect(s.storage.snapshotIndex()).toBe(5);
    expect(s.storage.term(5)).toBe(2);
    expect(s.storage.term(4)).toBeUndefined();
    expect(s.storage.entries(1, 9)).toEqual([ent(6, 2)]);
  });

  withStorage("an older snapshot is ignored", (s) => {
    s.storage.atomically(true, () => s.storage.save({ snapshot: snap(5, 2), entries: range(6, 7, 2), hardState: hs(2, 5) }));
    s.storage.atomically(true, () => s.storage.save({ snapshot: snap(3, 1), entries: [] }));
    s.storage.atomically(true, () => s.storage.compact(snap(4, 2)));
    expect(s.reopen().load()).toMatchObject({ snapshot: snap(5, 2), entries: range(6, 7, 2) });
  });

  withStorage("compact keeps the snapshot and hides the entries it covers", (s) => {
    s.storage.atomically(true, () => s.storage.save({ entries: range(1, 6, 1), hardState: hs(1, 6) }));
    s.storage.atomically(false, () => s.storage.compact(snap(4, 1)));
    const st = s.reopen().load()!;
    expect(st.snapshot).toEqual(snap(4, 1));
    expect(st.entries).toEqual(range(5, 6, 1));
    expect(s.storage.snapshot()).toEqual(snap(4, 1));
    expect(s.storage.term(4)).toBe(1);
    expect(s.storage.term(3)).toBeUndefined();
    expect(s.storage.lastIndex()).toBe(6);
    expect(s.storage.entries(1, 6)).toEqual(range(5, 6, 1));
    // Appending after a compaction continues the log.
    s.storage.atomically(true, () => s.storage.save({ entries: [ent(7, 1)] }));
    expect(s.reopen().load()!.entries).toEqual([...range(5, 6, 1), ent(7, 1)]);
  });

  withStorage("atomically returns fn's value and rethrows its error, keeping all or none of what fn saved", (s) => {
    expect(s.storage.atomically(true, () => 42)).toBe(42);
    s.storage.atomically(true, () => s.storage.save({ entries: [ent(1, 1)], hardState: hs(1) }));
    const before = s.reopen().load();
    expect(() =>
      s.storage.atomically(true, () => {
        s.storage.save({ entries: [ent(2, 1)], hardState: hs(2) });
        s.storage.save({ entries: [ent(3, 1)] });
        throw new Error("crash");
      }),
    ).toThrow("crash");
    const after = s.reopen().load()!;
    const all = { hardState: hs(2), entries: [ent(1, 1), ent(2, 1), ent(3, 1)] };
    expect([JSON.stringify(before), JSON.stringify(all)]).toContain(JSON.stringify({ hardState: after.hardState, entries: after.entries }));
  });

  withStorage("after a unit that failed, the storage's own indexes and reads agree with what a restart sees", (s) => {
    s.storage.atomically(true, () => s.storage.save({ entries: range(1, 4, 1), hardState: hs(1) }));
    expect(() =>
      s.storage.atomically(true, () => {
        s.storage.save({ entries: range(5, 8, 1), hardState: hs(1) });
        s.storage.compact(snap(6, 1));
        throw new Error("crash");
      }),
    ).toThrow("crash");
    const reopened = s.reopen();
    reopened.load();
    expect({ last: s.storage.lastIndex(), snap: s.storage.snapshotIndex() }).toEqual({ last: reopened.lastIndex(), snap: reopened.snapshotIndex() });
    // The next Ready is checked against the stored log, not against what rolled back.
    const next = s.storage.lastIndex() + 1;
    s.storage.atomically(true, () => s.storage.save({ entries: [ent(next, 1)] }));
    const after = s.reopen().load()!;
    const from = (after.snapshot?.index ?? 0) + 1;
    expect(after.entries.map((e) => e.index)).toEqual(range(from, from + after.entries.length - 1, 1).map((e) => e.index));
    expect(after.entries.at(-1)!.index).toBe(next);
  });
}
