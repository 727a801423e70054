// Shared builders for the jobs tests: a state store with a replicator, jobs
// from TOML-free objects, node registrations.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "../../core/store/db.ts";
import { Fsm } from "../../core/state/fsm.ts";
import { createStateReader, type StateReader } from "../../core/state/reader.ts";
import type { Command } from "../../core/state/commands.ts";
import { validateJob, type Job } from "../../core/scheduler/index.ts";
import { testReplicator } from "../helpers/replicator.ts";
import type { RaftReplicator } from "../../core/cluster/raft/replicator.ts";

export interface TestState {
  store: Store;
  fsm: Fsm;
  state: StateReader;
  raft: RaftReplicator;
  propose(cmd: Command): Promise<{ index: number; result: any }>;
  close(): Promise<void>;
}

export async function testState(): Promise<TestState> {
  const dir = mkdtempSync(join(tmpdir(), "corral-jobs-"));
  const store = await openStore(join(dir, "state.db"), { sync: "normal" });
  const fsm = new Fsm(store);
  const raft = testReplicator(store, fsm);
  for (let i = 0; i < 100 && !raft.status().isLeader; i++) await new Promise((r) => setTimeout(r, 20));
  const state = createStateReader(store, fsm);
  return {
    store, fsm, state, raft,
    propose: (cmd) => raft.propose(cmd),
    async close() {
      await raft.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;
export function uuid(n = ++seq): string {
  const h = n.toString(16).padStart(12, "0");
  return `00000000-0000-4000-8000-${h}`;
}

export function registerNode(id: string, name: string, opts: { cpuMhz?: number; memoryMb?: number } = {}): Command {
  return {
    type: "RegisterNode", v: 1, at: 1,
    node: {
      id, name, address: `127.0.0.1:${7000 + (seq % 1000)}`, datacenter: "dc1", role: "agent",
      attributes: { "os.name": "linux", "cpu.arch": "amd64" },
      resources: { cpuMhz: opts.cpuMhz ?? 4000, cores: 4, memoryBytes: (opts.memoryMb ?? 4096) * 1024 * 1024, diskBytes: 1e11 },
      reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {},
    },
  };
}

/** A job from the document keys of docs/jobs.md (snake_case), normalized. */
export function job(doc: Record<string, unknown>): Job {
  const r = validateJob(doc);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.job;
}

export function simpleJob(id: string, opts: { count?: number; cpu?: number; memory?: number; priority?: number; namespace?: string; command?: string; env?: Record<string, string> } = {}): Job {
  return job({
    id, namespace: opts.namespace ?? "default", priority: opts.priority ?? 50,
    groups: [{
      name: "web", count: opts.count ?? 1,
      tasks: [{ name: "srv", command: opts.command ?? "/bin/true", env: opts.env ?? {}, resources: { cpu: opts.cpu ?? 100, memory: opts.memory ?? 64 }, ports: { http: {} } }],
    }],
  });
}
