// The event stream's seam (replay, then live) against an in-memory log whose
// compaction and snapshot installs the test controls, and against a real
// SQLite store written through the Raft replicator.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventHub } from "../../core/monitor/event-hub.ts";
import { storeLogSource, type LogSource, type LoggedEntry } from "../../core/monitor/log-source.ts";
import { ApiError } from "../../core/http/errors.ts";
import { silentLogger } from "../../core/log.ts";
import type { Command } from "../../core/state/commands.ts";
import type { AppliedEntry } from "../../core/state/fsm.ts";
import { Fsm } from "../../core/state/fsm.ts";
import { openStore } from "../../core/store/db.ts";
import { RaftReplicator } from "../../core/cluster/raft/replicator.ts";
import { SqliteRaftStorage } from "../../core/cluster/raft/storage.ts";
import { readSse, dataOf } from "../helpers/sse.ts";

const kvSet = (key: string): Command => ({ type: "KVSet", v: 1, at: 1, key, value: "", flags: 0 });
const nodeDown = (id: string): Command => ({ type: "SetNodeStatus", v: 1, at: 1, nodeId: id, status: "down" });

/** A log the test drives: append (= apply), compact, install a snapshot. */
class MemLog implements LogSource {
  rows: LoggedEntry[] = [];
  applied = 0;
  compacted = 0;
  private listeners = new Set<(e: AppliedEntry) => void>();
  append(cmd: Command) {
    const index = ++this.applied;
    this.rows.push({ index, command: cmd });
    for (const fn of this.listeners) fn({ index, command: cmd, result: { ok: true } });
  }
  compact(upTo: number) {
    this.compacted = upTo;
    this.rows = this.rows.filter((r) => r.index > upTo);
  }
  /** A follower replacing its state with the leader's snapshot: no entry is applied one by one. */
  installSnapshot(index: number) {
    this.applied = this.compacted = index;
    this.rows = [];
  }
  appliedIndex = () => this.applied;
  compactedIndex = () => this.compacted;
  entries = (after: number, upTo: number, limit: number) => this.rows.filter((r) => r.index > after && r.index <= upTo).slice(0, limit);
  onApplied(fn: (e: AppliedEntry) => void) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

const hubs: EventHub[] = [];
function hubOver(source: LogSource, opts: Partial<ConstructorParameters<typeof EventHub>[0]> = {}) {
  const h = new EventHub({ source, log: silentLogger, maxStreams: 8, ...opts });
  hubs.push(h);
  return h;
}
afterAll(() => hubs.forEach((h) => h.close()));

const ids = (msgs: { id?: string }[]) => msgs.filter((m) => m.id !== undefined).map((m) => Number(m.id));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("event stream seam (in-memory log)", () => {
  test("entries applied while a replay pages through history arrive once, in order", async () => {
    const log = new MemLog();
    for (let i = 0; i < 50; i++) log.append(kvSet(`k${i}`));
    const hub = hubOver(log, { limits: { replayPageSize: 3 } });
    const s = readSse(hub.open({ after: 0, topics: null }));
    // Writes keep landing while the replay (17 pages, yielding between them) runs.
    for (let i = 50; i < 100; i++) {
      log.append(kvSet(`k${i}`));
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    await s.until((m) => m.length >= 100);
    log.append(kvSet("last"));
    await s.until((m) => m.length >= 101);
    expect(ids(s.messages)).toEqual(range(1, 101));
    expect(dataOf(s.messages).map((d) => d.payload.key)).toEqual([...range(0, 99).map((i) => `k${i}`), "last"]);
    await s.cancel();
  });

  test("resume after N starts at N+1; no index starts at the current one; a resume point ahead waits", async () => {
    const log = new MemLog();
    for (let i = 0; i < 10; i++) log.append(kvSet(`k${i}`));
    const hub = hubOver(log);
    const fromSeven = readSse(hub.open({ after: 7, topics: null }));
    const fromNow = readSse(hub.open({ topics: null }));
    const ahead = readSse(hub.open({ after: 12, topics: null }));
    await fromSeven.until((m) => m.length === 3);
    for (let i = 10; i < 14; i++) log.append(kvSet(`k${i}`));
    await fromSeven.until((m) => m.length === 7);
    await fromNow.until((m) => m.length === 4);
    await ahead.until((m) => m.length === 2);
    expect(ids(fromSeven.messages)).toEqual(range(8, 14));
    expect(ids(fromNow.messages)).toEqual(range(11, 14));
    expect(ids(ahead.messages)).toEqual([13, 14]);
    for (const s of [fromSeven, fromNow, ahead]) await s.cancel();
  });

  test("topic filters; resets pass every filter; plugin events are live and carry no id", async () => {
    const log = new MemLog();
    log.append(kvSet("a"));
    log.append(nodeDown("n1"));
    log.append({ type: "LeaderElected", v: 1, at: 1, leader: "x:1", term: 3 });
    log.append({ type: "RestoreState", v: 1, at: 1, data: "{}" });
    const hub = hubOver(log);
    const kvOnly = readSse(hub.open({ after: 0, topics: new Set(["kv"]) }));
    const nodeLeader = readSse(hub.open({ after: 0, topics: new Set(["node", "leader", "plugin"]) }));
    await kvOnly.until((m) => m.length === 2);
    await nodeLeader.until((m) => m.length === 3);
    expect(kvOnly.messages.map((m) => [m.id, m.event])).toEqual([["1", "kv"], ["4", "reset"]]);
    expect(nodeLeader.messages.map((m) => [m.id, m.event])).toEqual([["2", "node"], ["3", "leader"], ["4", "reset"]]);
    hub.publishLocal({ topic: "plugin", type: "PluginStateChanged", at: 1, payload: { name: "dns", state: "disabled" } });
    await nodeLeader.until((m) => m.length === 4);
    expect(nodeLeader.messages[3]).toEqual({ event: "plugin", data: expect.stringContaining('"state":"disabled"') });
    expect(nodeLeader.messages[3]!.id).toBeUndefined();
    expect(kvOnly.messages).toHaveLength(2);
    await kvOnly.cancel();
    await nodeLeader.cancel();
  });

  test("a resume point older than the snapshot gets a reset at the current index, then live events", async () => {
    const log = new MemLog();
    for (let i = 0; i < 30; i++) log.append(kvSet(`k${i}`));
    log.compact(20);
    const hub = hubOver(log);
    const s = readSse(hub.open({ after: 5, topics: null }));
    await s.until((m) => m.length === 1);
    expect(s.messages[0]).toMatchObject({ id: "30", event: "reset" });
    expect(JSON.parse(s.messages[0]!.data).payload.reason).toContain("compacted");
    log.append(kvSet("after"));
    await s.until((m) => m.length === 2);
    expect(s.messages[1]).toMatchObject({ id: "31", event: "kv" });
    // Resuming at the snapshot index itself needs nothing compacted: a plain replay.
    const atSnapshot = readSse(hub.open({ after: 20, topics: null }));
    await atSnapshot.until((m) => m.length === 11);
    expect(ids(atSnapshot.messages)).toEqual(range(21, 31));
    await s.cancel();
    await atSnapshot.cancel();
  });

  test("a snapshot installed under a live stream (a lagging follower) becomes a reset, not a silent gap", async () => {
    const log = new MemLog();
    for (let i = 0; i < 3; i++) log.append(kvSet(`k${i}`));
    const hub = hubOver(log);
    const s = readSse(hub.open({ topics: null }));
    log.append(kvSet("k3"));
    log.installSnapshot(40);
    log.append(kvSet("k41"));
    await s.until((m) => m.length === 3);
    expect(s.messages.map((m) => [m.id, m.event])).toEqual([["4", "kv"], ["40", "reset"], ["41", "kv"]]);
    await s.cancel();
  });

  test("bounded: too many streams is a 429; a client that stops reading is cut; close ends every stream", async () => {
    const log = new MemLog();
    const hub = hubOver(log, { maxStreams: 2, keepaliveMs: 20, limits: { maxQueuedFrames: 5 } });
    const idle = hub.open({ topics: null }); // never read
    const reader = readSse(hub.open({ topics: null }));
    expect(() => hub.open({ topics: null })).toThrow(ApiError);
    try {
      hub.open({ topics: null });
    } catch (err) {
      expect([(err as ApiError).status, (err as ApiError).code]).toEqual([429, "TOO_MANY_STREAMS"]);
    }
    for (let i = 0; i < 200; i++) {
      log.append(kvSet(`k${i}`));
      await new Promise((r) => setTimeout(r, 0)); // the reading client keeps up
    }
    expect(hub.size()).toBe(1); // the idle one was cut
    const rest = readSse(idle);
    await rest.ended;
    expect(rest.raw()).toContain(": closing: the client is not reading");
    expect(rest.messages.length).toBeLessThan(200);
    await reader.until((m) => m.length === 200);
    await new Promise((r) => setTimeout(r, 60));
    expect(reader.raw()).toContain(": keepalive");
    hub.close();
    await reader.ended;
    expect(reader.raw()).toContain(": closing: node shutting down");
    expect(() => hub.open({ topics: null })).toThrow("shutting down");
  });
});

describe("event stream over a real store", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  async function node(snapshotThreshold: number) {
    const dir = mkdtempSync(join(tmpdir(), "corral-events-"));
    dirs.push(dir);
    const store = await openStore(join(dir, "state.db"));
    const fsm = new Fsm(store);
    const raft = new RaftReplicator({
      id: "self", selfAddress: "127.0.0.1:1", peers: [], join: false, store, fsm,
      storage: new SqliteRaftStorage(store), transport: { send() {}, close() {} },
      forwarder: { propose: () => Promise.reject(new Error("no peers")) },
      log: silentLogger, electionTimeoutMs: 1000, heartbeatIntervalMs: 100, snapshotThreshold, announceLeadership: true,
    });
    raft.start();
    const hub = hubOver(storeLogSource(store, fsm));
    return { store, fsm, raft, hub };
  }

  test("replay from the log table and live entries meet with no gap and no duplicate", async () => {
    const { store, raft, hub } = await node(8192);
    for (let i = 0; i < 40; i++) await raft.propose(kvSet(`a${i}`));
    const s = readSse(hub.open({ after: 0, topics: new Set(["kv", "leader"]) }));
    // Concurrent writers while the stream replays and goes live.
    await Promise.all(Array.from({ length: 4 }, (_, w) => (async () => {
      for (let i = 0; i < 15; i++) await raft.propose(kvSet(`w${w}/${i}`));
    })()));
    const logged = store.client.prepare("SELECT idx, data FROM log WHERE kind = 'normal' ORDER BY idx").all() as { idx: number; data: string }[];
    const expected = logged.filter((r) => ["KVSet", "LeaderElected"].includes(JSON.parse(r.data).type)).map((r) => r.idx);
    expect(expected).toHaveLength(101);
    await s.until((m) => m.length >= expected.length);
    expect(ids(s.messages)).toEqual(expected);
    expect(s.messages[0]!.event).toBe("leader");
    await s.cancel();
    await raft.close();
  });

  test("after real compaction, an old resume point gets a reset and the stream goes on", async () => {
    const { raft, hub, store } = await node(16);
    for (let i = 0; i < 40; i++) await raft.propose(kvSet(`k${i}`));
    const snap = (store.client.prepare("SELECT idx FROM raft_snapshot").get() as { idx: number }).idx;
    expect(snap).toBeGreaterThan(16);
    const s = readSse(hub.open({ after: 1, topics: new Set(["kv"]) }));
    await s.until((m) => m.length === 1);
    const applied = raft.status().appliedIndex;
    expect(s.messages[0]).toMatchObject({ id: String(applied), event: "reset" });
    const out = await raft.propose(kvSet("next"));
    await s.until((m) => m.length === 2);
    expect(s.messages[1]).toMatchObject({ id: String(out.index), event: "kv" });
    await s.cancel();
    await raft.close();
  });
});
