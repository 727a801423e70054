// The Raft log's journal (core/cluster/raft/log-journal.ts): a durable unit
// is durable by its journal record alone, so after a power loss that took
// SQLite's unsynced commits the journal rebuilds the log exactly. A power
// loss is made here the only way a test can: the database as it was at an
// earlier moment (VACUUM INTO a copy) opened with the journal file as it is
// now, a real file in both cases.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteRaftStorage } from "../../core/cluster/raft/storage.ts";
import { FsJournalFile, LogJournal, crc32, jsCrc32 } from "../../core/cluster/raft/log-journal.ts";
import { openStore, type Store } from "../../core/store/db.ts";
import type { Entry, HardState } from "../../core/raft/index.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const ent = (index: number, term: number): Entry => ({ index, term, type: "normal", data: `e${index}t${term}` });
const hs = (term: number, commit: number, vote: string | null = null): HardState => ({ term, vote, commit });
const rows = (store: Store) => store.client.prepare("SELECT idx, term FROM log ORDER BY idx").all() as { idx: number; term: number }[];

async function node(bytes?: number) {
  const base = join(dir, `n${++n}`);
  const store = await openStore(join(base, "state.db"), { sync: "full" });
  const file = new FsJournalFile(join(base, "raft-journal"), { sync: true });
  const storage = new SqliteRaftStorage(store, new LogJournal(file, bytes));
  storage.load();
  let copies = 0;
  return {
    store,
    storage,
    /** The database as it is now, kept aside: what a power loss right after this moment may leave. */
    keep(): string {
      const to = join(base, `kept-${++copies}.db`);
      store.client.exec(`VACUUM INTO '${to}'`);
      return to;
    },
    /** A restart after a power loss that took every SQLite commit after `kept`: that database, this journal. */
    async powerLoss(kept: string) {
      const lost = await openStore(kept, { sync: "full" });
      const after = new SqliteRaftStorage(lost, new LogJournal(new FsJournalFile(join(base, "raft-journal"), { sync: true }), bytes));
      return { store: lost, storage: after, state: after.load() };
    },
  };
}

describe("the Raft log's journal", () => {
  test("its CRC-32 is zlib's, natively and in JS", () => {
    const check = new TextEncoder().encode("123456789");
    expect([crc32(check), jsCrc32(check)]).toEqual([0xcbf43926, 0xcbf43926]);
    const big = new TextEncoder().encode("é".repeat(5000));
    expect(crc32(big)).toBe(jsCrc32(big));
  });

  test("a power loss that took SQLite's last commits: the journal gives back every durable unit's entries and hard state", async () => {
    const a = await node();
    a.storage.atomically(true, () => a.storage.save({ entries: [ent(1, 1), ent(2, 1), ent(3, 1)], hardState: hs(1, 0, "a") }));
    const kept = a.keep();
    a.storage.atomically(true, () => a.storage.save({ entries: [ent(4, 1), ent(5, 1)], hardState: hs(1, 3, "a") }));
    const keptOlder5 = a.keep();
    // A new leader overwrote 5 on (§5.3), in a new term with a new vote.
    a.storage.atomically(true, () => a.storage.save({ entries: [ent(5, 2), ent(6, 2)], hardState: hs(2, 4, "b") }));
    // A unit that only applied and advanced the commit: not journaled, lost with SQLite.
    a.storage.atomically(false, () => a.storage.save({ entries: [], hardState: hs(2, 6, "b") }));
    const want = [ent(1, 1), ent(2, 1), ent(3, 1), ent(4, 1), ent(5, 2), ent(6, 2)];
    expect(a.storage.load()!.entries).toEqual(want);

    // What SQLite alone gives back after that power loss: the first unit only.
    const bare = await openStore(kept);
    expect(rows(bare)).toEqual([1, 2, 3].map((idx) => ({ idx, term: 1 })));
    bare.close();

    const b = await a.powerLoss(kept);
    expect(rows(b.store)).toEqual(want.map((e) => ({ idx: e.index, term: e.term })));
    expect(b.state!.entries).toEqual(want);
    expect(b.state!.hardState).toEqual(hs(2, 4, "b"));
    b.store.close();

    // A loss that kept entry 5 as the old leader wrote it: the journal's version replaces it.
    const c = await a.powerLoss(keptOlder5);
    expect(c.state!.entries).toEqual(want);
    c.store.close();
    a.store.close();
  });

  test("rows after the journal's last entry are left alone when SQLite lost nothing", async () => {
    const a = await node();
    a.storage.atomically(true, () => a.storage.save({ entries: [ent(1, 1), ent(2, 1)], hardState: hs(1, 0) }));
    // What an older release may have left in the log (test/security/local.test.ts writes such a row).
    a.store.client.prepare("INSERT INTO log (idx, term, kind, data) VALUES (3, 1, 'normal', 'e3t1')").run();
    const b = await a.powerLoss(a.keep());
    expect(b.state!.entries).toEqual([ent(1, 1), ent(2, 1), ent(3, 1)]);
    b.store.close();
    a.store.close();
  });

  test("entries saved by a unit that need not be durable are made durable by the next durable unit's sync", async () => {
    const a = await node();
    a.storage.atomically(true, () => a.storage.save({ entries: [ent(1, 1)], hardState: hs(1, 0) }));
    const kept = a.keep();
    a.storage.atomically(false, () => a.storage.save({ entries: [ent(2, 1)] }));
    a.storage.atomically(true, () => a.storage.save({ entries: [ent(3, 1)], hardState: hs(1, 2) }));
    const b = await a.powerLoss(kept);
    expect(b.state!.entries).toEqual([ent(1, 1), ent(2, 1), ent(3, 1)]);
    b.store.close();
    a.store.close();
  });

  test("a unit that threw leaves nothing in the journal", async () => {
    const a = await node();
    a.storage.atomically(true, () => a.storage.save({ entries: [ent(1, 1)], hardState: hs(1, 0) }));
    const kept = a.keep();
    expect(() =>
      a.storage.atomically(true, () => {
        a.storage.save({ entries: [ent(2, 1)], hardState: hs(1, 1) });
        throw new Error("crash inside the unit");
      }),
    ).toThrow(/crash inside/);
    const b = await a.powerLoss(kept);
    expect(b.state!.entries).toEqual([ent(1, 1)]);
    b.store.close();
    a.store.close();
  });

  test("an installed snapshot ends its unit with a synced commit and a new journal generation: older records are never replayed", async () => {
    const a = await node();
    a.storage.atomically(true, () => a.storage.save({ entries: [ent(1, 1), ent(2, 1), ent(3, 1)], hardState: hs(1, 0) }));
    a.storage.atomically(true, () => a.storage.save({ entries: [ent(11, 2)], hardState: hs(2, 10), snapshot: { index: 10, term: 2, voters: ["a"], data: "s10" } }));
    const kept = a.keep();
    a.storage.atomically(true, () => a.storage.save({ entries: [ent(12, 2)], hardState: hs(2, 11) }));
    const b = await a.powerLoss(kept);
    expect(b.state!.snapshot?.index).toBe(10);
    expect(b.state!.entries).toEqual([ent(11, 2), ent(12, 2)]);
    // Replaying the first generation would have put 1..3 back under the snapshot.
    expect(rows(b.store)).toEqual([{ idx: 11, term: 2 }, { idx: 12, term: 2 }]);
    b.store.close();
    a.store.close();
  });

  test("a full journal starts over after a synced commit, and what follows is still replayed", async () => {
    const a = await node(4096);
    const gen = () => Number((a.store.client.prepare("SELECT value FROM meta WHERE key = 'raft_journal_gen'").get() as { value: string } | undefined)?.value ?? 0);
    let i = 0;
    const write = () => {
      i++;
      a.storage.atomically(true, () => a.storage.save({ entries: [ent(i, 1)], hardState: hs(1, i - 1) }));
    };
    while (gen() === 0 && i < 100) write(); // ~100 bytes a record: 4 KiB fills within 40
    expect(gen()).toBe(1);
    // A power loss can only take what came after the reset's synced commit.
    const kept = a.keep();
    for (let k = 0; k < 10; k++) write();
    const b = await a.powerLoss(kept);
    expect(b.state!.entries.map((e) => e.index)).toEqual(Array.from({ length: i }, (_, k) => k + 1));
    expect(rows(b.store).length).toBe(i);
    b.store.close();
    a.store.close();
  });

  test("a torn record at the tail ends the journal; the next record is written over it", async () => {
    const base = join(dir, `torn-${++n}`);
    const path = join(base, "raft-journal");
    const store = await openStore(join(base, "state.db"), { sync: "full" });
    const s1 = new SqliteRaftStorage(store, new LogJournal(new FsJournalFile(path, { sync: true }), 8192));
    s1.load();
    s1.atomically(true, () => s1.save({ entries: [ent(1, 1)], hardState: hs(1, 0) }));
    const bytes = readFileSync(path);
    let end = 0; // walk the records to the first free byte
    while (bytes.readUInt32LE(end) !== 0) end += 12 + bytes.readUInt32LE(end);
    // Half a record: its header claims more than was written, its checksum cannot match.
    const torn = Buffer.alloc(20);
    torn.writeUInt32LE(500, 0);
    torn.writeUInt32LE(crc32(new Uint8Array([1, 2, 3])), 4);
    writeFileSync(path, Buffer.concat([bytes.subarray(0, end), torn, bytes.subarray(end + 20)]));
    const s2 = new SqliteRaftStorage(store, new LogJournal(new FsJournalFile(path, { sync: true }), 8192));
    expect(s2.load()!.entries).toEqual([ent(1, 1)]);
    s2.atomically(true, () => s2.save({ entries: [ent(2, 1)], hardState: hs(1, 1) }));
    const s3 = new SqliteRaftStorage(store, new LogJournal(new FsJournalFile(path, { sync: true }), 8192));
    expect(s3.load()!.entries).toEqual([ent(1, 1), ent(2, 1)]);
    store.close();
  });

  test("the file is allocated ahead, a MiB at a time: small appends never change its size", async () => {
    const a = await node();
    const size = () => readFileSync(join(dir, `n${n}`, "raft-journal")).length;
    expect(size()).toBe(1 << 20);
    for (let i = 1; i <= 20; i++) a.storage.atomically(true, () => a.storage.save({ entries: [ent(i, 1)], hardState: hs(1, 0) }));
    expect(size()).toBe(1 << 20);
    // A unit past the allocated end grows it by whole MiBs, zeros included, before writing.
    const big: Entry = { index: 21, term: 1, type: "normal", data: "x".repeat(1_200_000) };
    a.storage.atomically(true, () => a.storage.save({ entries: [big], hardState: hs(1, 0) }));
    expect(size()).toBe(2 << 20); // ~1.2 MB past a few KB: the second MiB
    const b = await a.powerLoss(a.keep());
    expect(b.state!.entries.at(-1)).toEqual(big);
    b.store.close();
    a.store.close();
  });
});
