// Seeds a stopped node's data dir with thousands of jobs and nodes, fast:
// registering 100,000 jobs through the API takes many minutes on this
// machine, while the rows those requests end in take seconds to write.
//
// Two steps, both ending in the rows the API's requests would:
//  1. The first `viaFsm` jobs and nodes are Raft log entries of the same
//     commands the API proposes (RegisterNode, SetNodeStatus, RegisterJob,
//     UpdateEvaluation), appended to the node's own log in its own term and
//     applied by the same FSM (core/state/fsm.ts) in the same transaction —
//     what the leader's replicator does with each committed entry, in big
//     batches instead of one Ready at a time.
//  2. The rest are copies of the last rows step 1 wrote (every column as
//     the FSM wrote it), with the key columns renumbered. Step 1 costs a few
//     ms per entry on a loaded 2-core machine (drizzle builds each query):
//     100,000 jobs that way take ~10 minutes, copies take seconds.
// The node, started again on the data dir, finds its log applied and serves
// the rows; its next snapshot holds them all.
//
// Use: start the real node once on the data dir (it bootstraps its Raft
// identity and term), stop it cleanly, seedScale(), start it again.
import { join } from "node:path";
import { SqliteRaftStorage } from "../../core/cluster/raft/storage.ts";
import { validateJob, type Job } from "../../core/scheduler/index.ts";
import { encodeCommand, type Command } from "../../core/state/commands.ts";
import { Fsm } from "../../core/state/fsm.ts";
import { openStore, setMeta } from "../../core/store/db.ts";

export interface SeedOptions {
  jobs: number;
  nodes: number;
  /** How many of each go through the FSM as log entries (the rest are copies of the last of them). Default 200. */
  viaFsm?: number;
  /** Entries applied per SQLite transaction. */
  batch?: number;
}

export interface Seeded {
  /** The log index of the last seeded entry (the node's applied index once it starts). */
  lastIndex: number;
  entries: number;
  ms: number;
}

/** Zero-padded, so the lists' key order is the numeric order: node-00001 ... */
export const seededJobId = (i: number, width: number) => `job-${String(i).padStart(width, "0")}`;
export const seededNodeName = (i: number, width: number) => `node-${String(i).padStart(width, "0")}`;

function uuid(kind: number, i: number): string {
  return `00000000-0000-4${String(kind).padStart(3, "0")}-8000-${i.toString(16).padStart(12, "0")}`;
}

function job(id: string): Job {
  const r = validateJob({
    id, namespace: "default", type: "service", priority: 50,
    groups: [{ name: "web", count: 1, tasks: [{ name: "srv", command: "/bin/true", resources: { cpu: 100, memory: 64 } }] }],
  });
  if (!r.ok) throw new Error(`seed job: ${JSON.stringify(r.errors)}`);
  return r.job;
}

/** The commands, in log order: nodes (registered, then down: no agent stands behind them), jobs, their evaluations done. */
function* commands(o: Required<SeedOptions>, at: number): Generator<Command> {
  const nw = String(o.nodes).length;
  const jw = String(o.jobs).length;
  const nodeCount = Math.min(o.nodes, o.viaFsm);
  const jobCount = Math.min(o.jobs, o.viaFsm);
  for (let i = 1; i <= nodeCount; i++) {
    yield {
      type: "RegisterNode", v: 1, at,
      node: {
        id: uuid(1, i), name: seededNodeName(i, nw), address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:7700`, datacenter: "dc1", role: "agent",
        attributes: { "os.name": "linux", "cpu.arch": "amd64" },
        resources: { cpuMhz: 4000, cores: 4, memoryBytes: 8 * 2 ** 30, diskBytes: 1e11 }, reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {},
      },
    } as Command;
  }
  // Down at once: otherwise the leader would mark 10,000 silent nodes down one by one while the test measures.
  for (let i = 1; i <= nodeCount; i++) {
    yield { type: "SetNodeStatus", v: 1, at, nodeId: uuid(1, i), status: "down", reason: "seeded: no agent", name: seededNodeName(i, nw) } as Command;
  }
  const spec = job("x");
  for (let i = 1; i <= jobCount; i++) {
    yield { type: "RegisterJob", v: 1, at, job: { ...spec, id: seededJobId(i, jw) }, evalId: uuid(2, i) } as Command;
  }
  // Each registration made a pending evaluation; completed here, so the started leader does not schedule
  // 100,000 jobs onto nodes that are down while the test measures (the jobs stay "pending").
  for (let i = 1; i <= jobCount; i += 10_000) {
    const evals = [];
    for (let k = i; k < Math.min(i + 10_000, jobCount + 1); k++) {
      evals.push({ id: uuid(2, k), namespace: "default", jobId: seededJobId(k, jw), priority: 50, triggeredBy: "job-register", nodeId: "", status: "complete", description: "seeded", waitUntil: 0 });
    }
    yield { type: "UpdateEvaluation", v: 1, at, evals } as Command;
  }
}

type Row = Record<string, unknown>;

/** Inserts `count` copies of `template` into `table`, each with the columns `vary(i)` returns changed. */
function copyRows(client: { prepare(sql: string): { run(...a: unknown[]): unknown } }, table: string, template: Row, from: number, to: number, vary: (i: number) => Row): void {
  const cols = Object.keys(template);
  const insert = client.prepare(`INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`);
  for (let i = from; i <= to; i++) {
    const row = { ...template, ...vary(i) };
    insert.run(...cols.map((c) => row[c]));
  }
}

/** Step 2: the jobs and nodes past `viaFsm`, copied from the last ones the FSM wrote. */
function copyTheRest(store: Awaited<ReturnType<typeof openStore>>, o: Required<SeedOptions>): void {
  const client = store.client;
  const one = (sqlText: string, ...args: unknown[]) => {
    const row = client.prepare(sqlText).get(...args) as Row | undefined;
    if (!row) throw new Error(`seedScale: no template row for ${sqlText}`);
    return row;
  };
  const nw = String(o.nodes).length;
  const jw = String(o.jobs).length;
  store.transaction(() => {
    if (o.nodes > o.viaFsm) {
      const node = one("SELECT * FROM nodes WHERE id = ?", uuid(1, o.viaFsm));
      copyRows(client, "nodes", node, o.viaFsm + 1, o.nodes, (i) => ({
        id: uuid(1, i), name: seededNodeName(i, nw), address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:7700`,
      }));
    }
    if (o.jobs > o.viaFsm) {
      const id = seededJobId(o.viaFsm, jw);
      const job = one("SELECT * FROM jobs WHERE namespace = 'default' AND id = ?", id);
      const version = one("SELECT * FROM job_versions WHERE namespace = 'default' AND job_id = ?", id);
      const evaluation = one("SELECT * FROM evaluations WHERE id = ?", uuid(2, o.viaFsm));
      const spec = JSON.parse(String(job.spec)) as Row;
      const specOf = (i: number) => JSON.stringify({ ...spec, id: seededJobId(i, jw) });
      copyRows(client, "jobs", job, o.viaFsm + 1, o.jobs, (i) => ({ id: seededJobId(i, jw), spec: specOf(i) }));
      copyRows(client, "job_versions", version, o.viaFsm + 1, o.jobs, (i) => ({ job_id: seededJobId(i, jw), spec: specOf(i) }));
      copyRows(client, "evaluations", evaluation, o.viaFsm + 1, o.jobs, (i) => ({ id: uuid(2, i), job_id: seededJobId(i, jw) }));
    }
  });
}

export async function seedScale(dataDir: string, opts: SeedOptions): Promise<Seeded> {
  const o: Required<SeedOptions> = { batch: 5000, viaFsm: 200, ...opts };
  const t0 = performance.now();
  const store = await openStore(join(dataDir, "state.db"), { sync: "normal" });
  try {
    const storage = new SqliteRaftStorage(store);
    const persisted = storage.load();
    if (!persisted) throw new Error("seedScale: the data dir has no Raft state: start the node on it once (and stop it) first");
    const fsm = new Fsm(store);
    let last = storage.lastIndex();
    const { hardState } = persisted;
    if (fsm.appliedIndex() !== last || hardState.commit !== last) {
      throw new Error(`seedScale: the node did not stop cleanly (log ${last}, committed ${hardState.commit}, applied ${fsm.appliedIndex()})`);
    }
    const term = hardState.term;
    const insert = store.client.prepare("INSERT INTO log (idx, term, kind, data) VALUES (?, ?, ?, ?)");
    const batch = o.batch;
    let entries = 0;
    let pending: Command[] = [];
    const flush = () => {
      if (!pending.length) return;
      const applied = store.transaction(() => {
        const out = [];
        for (const cmd of pending) {
          const index = ++last;
          insert.run(index, term, "normal", encodeCommand(cmd));
          const e = fsm.applyInTransaction(index, cmd);
          if (!e.result.ok) throw new Error(`seedScale: entry ${index} (${cmd.type}) refused: ${JSON.stringify(e.result)}`);
          out.push(e);
        }
        // Committed, as the leader records it once a quorum (here: itself) has the entries.
        setMeta(store.client, "raft_hard_state", JSON.stringify({ ...hardState, commit: last }));
        return out;
      });
      for (const e of applied) fsm.published(e);
      entries += pending.length;
      pending = [];
    };
    for (const cmd of commands(o, Date.now())) {
      pending.push(cmd);
      if (pending.length >= batch) flush();
    }
    flush();
    copyTheRest(store, o);
    return { lastIndex: last, entries, ms: Math.round(performance.now() - t0) };
  } finally {
    store.close();
  }
}
