// Where an agent learns its allocations: a blocking query on
// GET /v1/node/{id}/allocations at the leader (through the agent's leader
// forwarding, like every read an agent makes), or the local state on a
// leader-role node that runs tasks itself (dev). The loop hands every new
// answer to onAllocs; errors back off up to MAX_BACKOFF_MS.
import type { Logger, StateReader } from "../../core/sdk/index.ts";
import type { NodeAlloc } from "./alloc-runner.ts";

export type FetchAllocs = (index: number, signal: AbortSignal) => Promise<{ index: number; allocs: NodeAlloc[] }>;

/** Longest a blocking query waits before the leader answers anyway. */
const WAIT = "30s";
const MAX_BACKOFF_MS = 5_000;

export function remoteAllocs(nodeId: string, forward: (req: Request) => Promise<Response>): FetchAllocs {
  return async (index, signal) => {
    const req = new Request(`http://leader/v1/node/${encodeURIComponent(nodeId)}/allocations?index=${index}&wait=${WAIT}`, { signal });
    const res = await forward(req);
    if (!res.ok) throw new Error(`leader answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const allocs = (await res.json()) as NodeAlloc[];
    return { index: Number(res.headers.get("x-corral-index") ?? 0), allocs };
  };
}

export function localAllocs(nodeId: string, state: StateReader): FetchAllocs {
  return async (index, signal) => {
    // Keyed by node, as the leader's route is: only entries that change this node's allocations wake it.
    const out = await state.blocking({ tables: [{ table: "allocations", key: nodeId }], minIndex: index, waitMs: 30_000, signal }, () => ({
      index: state.jobs.nodeAllocIndex(nodeId),
      value: state.jobs.listAllocs({ nodeId }),
    }));
    return { index: out.index, allocs: out.value as unknown as NodeAlloc[] };
  };
}

export class AllocWatch {
  private ctl = new AbortController();
  private running = false;

  constructor(private fetchAllocs: FetchAllocs, private onAllocs: (allocs: NodeAlloc[]) => Promise<void> | void, private log: Logger) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  close(): void {
    this.running = false;
    this.ctl.abort();
  }

  private async loop(): Promise<void> {
    let index = 0;
    let backoff = 0;
    let failures = 0;
    while (this.running) {
      try {
        const r = await this.fetchAllocs(index, this.ctl.signal);
        if (!this.running) return;
        if (r.index !== index || index === 0) await this.onAllocs(r.allocs);
        // An index that went backwards (a restored snapshot, a new leader's state) starts over.
        index = r.index < index ? 0 : r.index;
        backoff = 0;
        failures = 0;
      } catch (err) {
        if (!this.running) return;
        failures++;
        backoff = Math.min(MAX_BACKOFF_MS, Math.max(200, backoff * 2));
        if (failures === 1 || failures % 10 === 0) this.log.warn("watching this node's allocations failed; retrying", { err: (err as Error)?.message, retryMs: backoff });
        await new Promise((r) => setTimeout(r, backoff));
      }
    }
  }
}
