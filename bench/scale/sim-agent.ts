// One simulated agent for the scale harness, built from the real agent's
// parts so it speaks the same protocol and takes no shortcut a real agent
// can't: AgentMember joins and heartbeats (at the interval the leader asks
// for), AllocWatch holds the blocking query on its node's allocations,
// StatusReporter batches UpdateAllocStatus, and CatalogSync with a
// LocalRegistry writes its services and checks as the discovery plugin does.
// Everything goes through HttpLeaderTransport, signed with the cluster
// secret as this node. What is simulated: the host (no fingerprinting, a
// fixed live sample) and the tasks (an allocation told to run is reported
// running at once; one told to stop is reported complete).
import { AgentMember } from "../../core/cluster/agent.ts";
import { HttpLeaderTransport } from "../../core/cluster/transport.ts";
import type { JoinRequest, LiveSample } from "../../core/cluster/protocol.ts";
import type { Logger } from "../../core/log.ts";
import type { AppliedProposal, Command } from "../../core/sdk/index.ts";
import type { TaskState } from "../../core/store/schema-jobs.ts";
import { AllocWatch, remoteAllocs } from "../../plugins/exec/source.ts";
import { StatusReporter } from "../../plugins/exec/reporter.ts";
import type { NodeAlloc } from "../../plugins/exec/alloc-runner.ts";
import { CatalogSync } from "../../plugins/discovery/sync.ts";
import { LocalRegistry } from "../../plugins/discovery/local.ts";

export interface SimAgentOptions {
  index: number;
  id: string;
  leaders: string[];
  secret: string;
  /** Services (each with one TTL check) this node registers after joining. */
  services: number;
  /** How many distinct service names the cluster's instances spread over. */
  serviceNames: number;
  /** Agent's own heartbeat interval; the leader may ask for a longer one. */
  heartbeatMs: number;
  log: Logger;
  /** An allocation this agent reported running (the leader acknowledged the write). */
  onRunning?(allocId: string, jobId: string, at: number): void;
}

const SAMPLE: LiveSample = { time: 0, cpuPercent: 12.5, memoryUsedBytes: 4e9, memoryAvailableBytes: 12e9, load1: 0.5, load5: 0.4, load15: 0.3 };

export class SimAgent {
  readonly transport: HttpLeaderTransport;
  readonly member: AgentMember;
  readonly registry = new LocalRegistry("/dev/null");
  readonly sync: CatalogSync;
  private watch?: AllocWatch;
  private reporter: StatusReporter;
  private known = new Map<string, string>();
  /** Allocations reported running and not yet acknowledged: their job, for onRunning. */
  private jobOf = new Map<string, string>();
  private stopped = false;

  constructor(private o: SimAgentOptions) {
    this.transport = new HttpLeaderTransport(o.leaders, { secret: o.secret, node: o.id }, 30_000);
    this.reporter = new StatusReporter({ nodeId: o.id, propose: (c) => this.proposeStatus(c), now: Date.now, log: o.log, debounceMs: 50 });
    this.sync = new CatalogSync({
      propose: (c) => this.transport.propose(c), registry: this.registry, node: () => this.nodeRef(), log: o.log, now: Date.now,
      after: (ms, fn) => void setTimeout(fn, ms), maxRetryMs: 30_000,
      catalogDigest: () => this.catalogDigest(),
    });
    this.member = new AgentMember({
      transport: this.transport, registration: async () => this.registration(), latestSample: () => ({ ...SAMPLE, time: Date.now() }),
      heartbeatMs: o.heartbeatMs, log: o.log,
      onJoined: () => void this.sync.full(),
    });
    const now = Date.now();
    for (let k = 0; k < o.services; k++) {
      const name = `svc-${(o.index * o.services + k) % o.serviceNames}`;
      const id = `${name}-${o.index}-${k}`;
      this.registry.putService(
        { id, name, tags: ["v1"], address: "", port: 20000 + k, meta: {}, weights: { passing: 1, warning: 1 }, taggedAddresses: {}, enableTagOverride: false },
        [{ id: `${id}-ttl`, name: `${name} alive`, serviceId: id, notes: "", type: "ttl", status: "passing", ttlMs: 3_600_000, definition: { TTL: "1h" } }],
        true, now,
      );
    }
  }

  get name(): string {
    return `sim-${this.o.index}`;
  }

  start(watchAllocs: boolean): void {
    this.member.start();
    if (watchAllocs) {
      const forward = (req: Request) => this.transport.forward(req);
      this.watch = new AllocWatch(remoteAllocs(this.o.id, forward), (allocs) => this.onAllocs(allocs), this.o.log);
      this.watch.start();
    }
  }

  stop(): void {
    this.stopped = true;
    this.member.stop();
    this.watch?.close();
    this.reporter.stop();
    this.sync.stop();
  }

  /** Turns one of its checks critical or passing, through the same write a real check result makes. */
  setCheck(serviceIndex: number, status: "passing" | "critical"): Promise<boolean> {
    const svc = this.registry.listServices()[serviceIndex];
    if (!svc) return Promise.resolve(false);
    const checkId = `${svc.id}-ttl`;
    this.registry.setStatus(checkId, status, status === "critical" ? "flapped by the harness" : "", Date.now());
    return this.sync.status(checkId);
  }

  /** Registers one more instance of `name` carrying `tag`, as a service registered on a real agent is written. */
  addService(name: string, tag: string): Promise<boolean> {
    const id = `${name}-${this.o.index}-${tag}`;
    this.registry.putService(
      { id, name, tags: [tag], address: "", port: 29999, meta: {}, weights: { passing: 1, warning: 1 }, taggedAddresses: {}, enableTagOverride: false },
      [], true, Date.now(),
    );
    return this.sync.service(id);
  }

  /** Reads through this agent, as a local client of a real agent would (node-signed, forwarded to a leader). */
  forward(pathAndQuery: string, signal?: AbortSignal): Promise<Response> {
    return this.transport.forward(new Request(`http://leader${pathAndQuery}`, { signal: signal ?? AbortSignal.timeout(600_000) }));
  }

  /** The reporter's write; once the leader has applied it, its running allocations count as reported. */
  private async proposeStatus(cmd: Command): Promise<AppliedProposal> {
    const out = await this.transport.propose(cmd);
    if (out.result.ok && cmd.type === "UpdateAllocStatus") {
      const at = Date.now();
      for (const u of cmd.updates ?? []) { // an agent proposes v1: its own updates
        const jobId = this.jobOf.get(u.allocId);
        if (u.clientStatus !== "running" || jobId === undefined) continue;
        this.jobOf.delete(u.allocId);
        this.o.onRunning?.(u.allocId, jobId, at);
      }
    }
    return out;
  }

  private registration(): JoinRequest {
    const i = this.o.index;
    return {
      id: this.o.id, name: this.name, address: `${this.address()}:7700`, datacenter: "dc1", role: "agent",
      attributes: { "os.name": "linux", "cpu.arch": "amd64", "kernel.version": "6.1.0", "driver.exec": "1" },
      resources: { cpuMhz: 8000, cores: 4, memoryBytes: 16 * 2 ** 30, diskBytes: 2 ** 40 },
      reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: { rack: `r${i % 40}` },
    };
  }

  private address(): string {
    const i = this.o.index;
    return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  }

  private nodeRef() {
    return { id: this.o.id, name: this.name, address: this.address(), datacenter: "dc1" };
  }

  private async catalogDigest(): Promise<string | undefined> {
    const res = await this.forward(`/v1/discovery/digest/${encodeURIComponent(this.o.id)}`, AbortSignal.timeout(5_000)).catch(() => undefined);
    if (!res?.ok) return undefined;
    const body = (await res.json()) as { digest?: unknown };
    return typeof body.digest === "string" ? body.digest : undefined;
  }

  private onAllocs(allocs: NodeAlloc[]): void {
    if (this.stopped) return;
    const listed = new Set<string>();
    const now = Date.now();
    for (const a of allocs) {
      listed.add(a.id);
      const want = a.desiredStatus === "run" ? "running" : "complete";
      if (this.known.get(a.id) === want) continue;
      this.known.set(a.id, want);
      const tasks = Object.fromEntries((a.groupSpec?.tasks ?? []).map((t) => [t.name, taskState(want, now)]));
      if (want === "running") this.jobOf.set(a.id, a.jobId);
      this.reporter.report({ allocId: a.id, clientStatus: want, description: "", taskStates: tasks });
    }
    for (const id of this.known.keys()) {
      if (!listed.has(id)) {
        this.known.delete(id);
        this.jobOf.delete(id);
        this.reporter.forget(id);
      }
    }
  }
}

function taskState(state: "running" | "complete", now: number): TaskState {
  const dead = state === "complete";
  return { state: dead ? "dead" : "running", failed: false, restarts: 0, oom: false, ooms: 0, exitCode: dead ? 0 : null, startedAt: now, finishedAt: dead ? now : 0, events: [] };
}
