// The Raft log's durability journal: a preallocated append-only file that
// makes a Ready's log writes durable with one small fdatasync, so that the
// SQLite commit holding the same writes need not be fsynced.
//
// Why: the log lives in SQLite (table `log`, meta `raft_hard_state`), and a
// WAL commit with synchronous = FULL syncs whole 4 KiB pages (the log's leaf
// page, the meta page, the pages the apply touched). Measured on the CI
// machine, that costs about 1.5-2x an fdatasync of a ~250-byte record
// appended inside a preallocated file (no size change, so the filesystem
// has no metadata to commit), which is what etcd's WAL does. One commit's
// latency is one such sync on the leader and on a follower, so this is the
// largest single cost of a commit at one client (docs/raft.md).
//
// How: each durable unit of the storage (SqliteRaftStorage.atomically) is
// written here as one record (its new entries and hard state) and synced,
// while its SQLite transaction commits without a sync. After a power loss
// SQLite may lack its last commits; the journal holds every durable unit
// since SQLite was last known durable, in order, and replaying them all
// (recover) rebuilds the log exactly: entries change only in durable units,
// each unit's entries replace the log from their first index on, so the
// replay ends with the true log whatever prefix of it SQLite kept. (Entries
// a compaction trimmed may come back below the snapshot: nothing reads
// there, and trim deletes them again.) The state applied from the log needs
// nothing: it sits in SQLite with its applied index, atomically, and Raft
// applies again what comes after it.
//
// The journal is emptied ("reset") once SQLite is durable again: one SQLite
// commit with a sync makes every earlier commit durable. That happens when
// the file is nearly full and after a snapshot is installed (the snapshot
// is never journaled: its unit ends with that durable commit instead). A
// reset bumps the journal's generation, stored in that same durable commit
// (meta `raft_journal_gen`), and writes a reset record of the new
// generation at offset 0: records are read from offset 0 while their
// generation is the stored one, so the older records behind them in the
// file are never read again.
//
// Record: u32 length of the payload, u32 CRC-32 of (generation + payload),
// u32 generation, payload (UTF-8 JSON). A length of 0 ends the records (the
// preallocated zeros); a bad CRC ends them too (a torn write at the tail).
import { closeSync, fdatasyncSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Entry, HardState } from "../../raft/index.ts";

/** What one durable unit changed in the log: entries replacing the log from entries[0].index on, and the hard state. */
export interface JournalRecord {
  entries: Entry[];
  hardState?: HardState;
}

/** The file under the journal: a real one, or memory in the simulator and unit tests. */
export interface JournalFile {
  /** The whole file (zeros past the last record). */
  read(): Uint8Array;
  /** Writes bytes at offset (past the end grows the file). */
  write(offset: number, bytes: Uint8Array): void;
  /** Makes every write so far durable (fdatasync). */
  sync(): void;
  close(): void;
}

/** Journal size: a reset (one synced SQLite commit) every ~8 MiB of log records, ~30,000 small writes. */
export const JOURNAL_BYTES = 8 << 20;
/** The file is allocated this much at a time (FsJournalFile). */
const GROW_BYTES = 1 << 20;
const HEADER = 12;
const RESET = "reset";

export class LogJournal {
  /** Generation of the records being written; the records read back must carry it. */
  private gen = 0;
  /** Where the next record goes. */
  private offset = 0;

  constructor(
    private file: JournalFile,
    private capacity = JOURNAL_BYTES,
  ) {}

  /**
   * The records of generation `gen` (what SQLite's durable meta says), in
   * order, without the reset record. Then appends go after them.
   */
  open(gen: number): JournalRecord[] {
    this.gen = gen;
    const bytes = this.file.read();
    const out: JournalRecord[] = [];
    let at = 0;
    let first = true;
    for (;;) {
      const rec = readRecord(bytes, at);
      if (!rec || rec.gen !== gen) break;
      const payload = new TextDecoder().decode(rec.payload);
      if (first && payload === JSON.stringify(RESET)) {
        first = false;
        at = rec.end;
        continue;
      }
      if (first) break; // the reset record of this generation is missing: nothing after offset 0 is ours
      out.push(JSON.parse(payload) as JournalRecord);
      at = rec.end;
    }
    if (at === 0) {
      // No reset record of this generation yet (a fresh file, or a crash
      // between the durable commit of the generation and this write).
      this.reset(gen);
    } else {
      this.offset = at;
    }
    return out;
  }

  /** Appends one record (durable only after sync()). */
  append(record: JournalRecord): void {
    this.offset = this.write(this.offset, JSON.stringify(record));
  }

  /** Makes every record appended so far durable. */
  sync(): void {
    this.file.sync();
  }

  /** Whether the journal should be reset (after the unit that filled it). */
  nearlyFull(): boolean {
    return this.offset > this.capacity - (this.capacity >> 4);
  }

  /**
   * Starts generation `gen` at offset 0. Call only once SQLite holds
   * durably every record written so far and `gen` itself.
   */
  reset(gen: number): void {
    this.gen = gen;
    this.offset = this.write(0, JSON.stringify(RESET));
    this.file.sync();
  }

  close(): void {
    this.file.close();
  }

  private write(at: number, json: string): number {
    const payload = new TextEncoder().encode(json);
    const buf = new Uint8Array(HEADER + payload.length);
    const view = new DataView(buf.buffer);
    view.setUint32(0, payload.length, true);
    view.setUint32(8, this.gen, true);
    buf.set(payload, HEADER);
    view.setUint32(4, crc32(buf.subarray(8)), true);
    this.file.write(at, buf);
    return at + buf.length;
  }
}

function readRecord(bytes: Uint8Array, at: number): { gen: number; payload: Uint8Array; end: number } | undefined {
  if (at + HEADER > bytes.length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, HEADER);
  const len = view.getUint32(0, true);
  if (len === 0 || at + HEADER + len > bytes.length) return undefined;
  const body = bytes.subarray(at + 8, at + HEADER + len);
  if (crc32(body) !== view.getUint32(4, true)) return undefined;
  return { gen: view.getUint32(8, true), payload: bytes.subarray(at + HEADER, at + HEADER + len), end: at + HEADER + len };
}

/**
 * The journal in a real file, preallocated with zeros so that an append
 * never changes its size: 1 MiB at first, then a MiB more whenever an append
 * would reach past the allocated end (a few ms once per ~4,000 small writes,
 * until the journal's size is reached and a reset starts it over), so a node
 * that writes little never pays for the whole file. `sync: false`
 * (raft.sync = "normal"): never synced; the records still survive a
 * process crash.
 */
export class FsJournalFile implements JournalFile {
  private fd: number;
  private syncs: boolean;
  private allocated: number;

  constructor(
    private path: string,
    opts: { sync: boolean },
  ) {
    this.syncs = opts.sync;
    this.fd = openSync(path, "a+", 0o600); // created if absent (private, like state.db); never truncated
    closeSync(this.fd);
    this.fd = openSync(path, "r+");
    this.allocated = fstatSync(this.fd).size;
    if (this.allocated < GROW_BYTES) this.allocate(GROW_BYTES);
  }

  read(): Uint8Array {
    const size = fstatSync(this.fd).size;
    const buf = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const n = readSync(this.fd, buf, at, size - at, at);
      if (n <= 0) break;
      at += n;
    }
    return buf;
  }

  write(offset: number, bytes: Uint8Array): void {
    const end = offset + bytes.length;
    if (end > this.allocated) this.allocate(Math.ceil(end / GROW_BYTES) * GROW_BYTES);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
  }

  sync(): void {
    if (this.syncs) fdatasyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }

  /**
   * Zeros written out to `size` (not a sparse ftruncate): the blocks are
   * allocated now, so later writes into them leave the inode's size and
   * extents alone and fdatasync has only data to flush.
   */
  private allocate(size: number): void {
    const zeros = new Uint8Array(GROW_BYTES);
    for (let at = this.allocated; at < size; at += zeros.length) writeSync(this.fd, zeros, 0, Math.min(zeros.length, size - at), at);
    if (this.syncs) {
      fsyncSync(this.fd);
      if (this.allocated === 0) syncDir(dirname(this.path));
    }
    this.allocated = size;
  }
}

/** A new file's directory entry is durable only once the directory is synced. */
function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Bun's native CRC-32 (~35x the JS loop below: a Ready of 256 writes is ~80 KB to check). */
const nativeCrc32 = (globalThis as { Bun?: { hash: { crc32(b: Uint8Array): number } } }).Bun?.hash.crc32;

/** CRC-32 (IEEE), as zlib computes it. */
export function crc32(bytes: Uint8Array): number {
  return nativeCrc32 ? nativeCrc32(bytes) >>> 0 : jsCrc32(bytes);
}

/** The same in JS, for Node. */
export function jsCrc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
