// Keeps the catalog in line with the agent's registrations (Consul's
// anti-entropy). Every write is built from the registry *when it runs*, and
// writes run one at a time in order, so a slow full sync can never overwrite
// a newer status change, and a queued register of a service deregistered
// meanwhile turns into a deregister. A failed write marks a full sync due;
// retries back off up to the sync interval. Full syncs also run every
// sync_interval and after each (re)join, so a leader that lost or never got
// a write converges, and what the agent no longer has is removed. A full
// sync first compares digests of both sides (Consul's anti-entropy also
// reads before it writes): when they agree nothing goes to the log.
import {
  type Command, type Logger, type NodeRef, type AppliedProposal, registrationDigest,
} from "../../core/sdk/index.ts";
import { LocalRegistry } from "./local.ts";

export interface SyncDeps {
  propose(cmd: Command): Promise<AppliedProposal>;
  registry: LocalRegistry;
  node(): NodeRef;
  log: Logger;
  now(): number;
  /** One-shot timer (the plugin's ctx.after, released on stop). */
  after(ms: number, fn: () => void): void;
  maxRetryMs: number;
  /** The catalog's digest of this node's rows (registrationDigest); undefined when it cannot be read. */
  catalogDigest(): Promise<string | undefined>;
}

const FIRST_RETRY_MS = 500;

export class CatalogSync {
  private tail: Promise<unknown> = Promise.resolve();
  private due = false;
  private retryMs = FIRST_RETRY_MS;
  private retryPending = false;
  private failures = 0;
  private stopped = false;
  /** Full syncs written, and skipped because the catalog already agreed (metrics, tests). */
  readonly stats = { written: 0, skipped: 0 };
  /** The registry's digest as of a registry version (a node with 10,000 checks need not hash them every sync_interval). */
  private local?: { version: number; node: string; digest: string };

  constructor(private d: SyncDeps) {}

  stop(): void {
    this.stopped = true;
  }

  /** A full sync failed or a write was lost: true until the next full sync succeeds. */
  isDue(): boolean {
    return this.due;
  }

  /** The service (and its checks) as the registry has it now, or its removal. */
  service(id: string): Promise<boolean> {
    return this.run(() => {
      const svc = this.d.registry.service(id);
      const at = this.d.now();
      if (!svc) return { type: "DeregisterService", v: 1, at, nodeId: this.d.node().id, serviceId: id };
      const checks = this.d.registry.checksOf(id).map(LocalRegistry.toCatalog);
      return { type: "RegisterService", v: 1, at, node: this.d.node(), service: svc, checks };
    });
  }

  /** A standalone check, or its removal. */
  check(id: string): Promise<boolean> {
    return this.run(() => {
      const c = this.d.registry.check(id);
      const at = this.d.now();
      if (!c) return { type: "DeregisterCheck", v: 1, at, nodeId: this.d.node().id, checkId: id };
      return { type: "RegisterCheck", v: 1, at, node: this.d.node(), check: LocalRegistry.toCatalog(c) };
    });
  }

  /** A status change (output rides along; output-only changes wait for the next full sync). */
  status(id: string): Promise<boolean> {
    return this.run(() => {
      const c = this.d.registry.check(id);
      if (!c) return undefined;
      return { type: "UpdateCheckStatus", v: 1, at: this.d.now(), nodeId: this.d.node().id, checkId: id, status: c.status, output: c.output };
    });
  }

  /** Sends the whole registration set unless the catalog already has it; rows the agent no longer has are removed. */
  full(): Promise<boolean> {
    return this.run(async () => {
      const remote = await this.d.catalogDigest().catch(() => undefined);
      const r = this.d.registry;
      const node = this.d.node();
      if (remote !== undefined && remote === this.localDigest(node)) {
        this.due = false;
        this.stats.skipped++;
        return undefined;
      }
      this.due = false;
      return { type: "SyncNodeServices", v: 1, at: this.d.now(), node, services: r.listServices(), checks: r.listChecks().map(LocalRegistry.toCatalog) };
    }, true);
  }

  private localDigest(node: NodeRef): string {
    const r = this.d.registry;
    const nodeKey = `${node.name}\n${node.address}\n${node.datacenter}`;
    if (this.local?.version === r.version && this.local.node === nodeKey) return this.local.digest;
    const digest = registrationDigest(node, r.listServices(), r.listChecks().map(LocalRegistry.toCatalog));
    this.local = { version: r.version, node: nodeKey, digest };
    return digest;
  }

  private run(build: () => Command | undefined | Promise<Command | undefined>, isFull = false): Promise<boolean> {
    const p = this.tail.then(async () => {
      if (this.stopped) return false;
      const cmd = await build();
      if (!cmd || this.stopped) return true;
      try {
        const out = await this.d.propose(cmd);
        if (!out.result.ok) throw new Error(`${out.result.code}: ${out.result.message}`);
        if (isFull) this.stats.written++;
        this.succeeded();
        return true;
      } catch (err) {
        this.failed(cmd.type, err);
        return false;
      }
    });
    this.tail = p.catch(() => undefined);
    return p;
  }

  private succeeded() {
    if (this.failures > 0) this.d.log.info("catalog sync recovered", { after: this.failures });
    this.failures = 0;
    this.retryMs = FIRST_RETRY_MS;
  }

  private failed(type: string, err: unknown) {
    this.due = true;
    this.failures++;
    // One line per outage, then one every tenth failure: a leader down for
    // minutes must not flood the log.
    if (this.failures === 1 || this.failures % 10 === 0) {
      this.d.log.warn("catalog write failed; will resync", { command: type, err: (err as Error)?.message ?? String(err), failures: this.failures });
    }
    if (this.retryPending || this.stopped) return;
    this.retryPending = true;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.d.maxRetryMs);
    this.d.after(wait, () => {
      this.retryPending = false;
      if (this.due) void this.full();
    });
  }
}
