// Services of job tasks in the catalog. A running task with a `service`
// block is registered with this node's discovery plugin through its
// Consul-compatible agent API (PUT /v1/agent/service/register), the way
// Nomad registers tasks with a local Consul agent: the agent's registry is
// the source of truth for its node's part of the catalog and its
// anti-entropy would remove anything written to the catalog behind its back.
// The service id is _corral-task-<alloc>-<task> (the leader reads the
// checks of that id for deployment health); it is deregistered when the task
// stops.
//
// http, tcp and grpc checks are run here (run_checks), with the health plugin's
// probes (published through the SDK), and their results handed to
// the discovery plugin on its "discovery.check.result" topic; the discovery
// plugin runs ttl checks itself. This is a stopgap for nodes without the
// health plugin: with run_checks = "auto" (the default) it steps aside while
// the health plugin is enabled (refreshChecks), since that one runs every
// http/tcp check of the node's services, these included. With discovery disabled, registration fails
// (logged once per allocation) and the task runs without a catalog entry.
// With ACLs on, the calls carry the node's own token (HostInfo.localToken).
import {
  DEFAULT_OUTPUT_MAX_BYTES, type GrpcProbeSpec, grpcProbe, type HttpProbeSpec, httpInit, httpProbe, type Logger, type ProbeResult, send, type ServiceCheck, taskServiceId, tcpProbe,
} from "../../core/sdk/index.ts";
import { CHECK_RESULT } from "../discovery/topics.ts";
import type { NodeAlloc, ServiceHooks } from "./alloc-runner.ts";

export interface ServicesDeps {
  apiUrl(): string | undefined;
  /** This node's own token (HostInfo.localToken) for its agent API when ACLs are on. */
  token(): string | undefined;
  /** Address other nodes reach this one at (the services' address). */
  host: string;
  /** Whether to run checks now (plugins.exec.run_checks, "auto" follows the health plugin). */
  runChecks(): boolean;
  publish(topic: string, payload: unknown): void;
  log: Logger;
}

const REGISTER_ATTEMPTS = 3;
const REQUEST_TIMEOUT_MS = 5_000;

export function checkId(serviceId: string, i: number): string {
  return `${serviceId}:${i}`;
}

/** The Consul service definition of a task's service. */
export function serviceDefinition(alloc: NodeAlloc, taskName: string, host: string): Record<string, unknown> | undefined {
  const task = alloc.groupSpec.tasks.find((t) => t.name === taskName);
  const svc = task?.service;
  if (!svc) return undefined;
  const port = svc.port ? (alloc.ports.find((p) => p.task === taskName && p.label === svc.port)?.value ?? 0) : 0;
  const id = taskServiceId(alloc.id, taskName);
  const checks = svc.checks.map((c, i) => {
    const base = { CheckID: checkId(id, i), Name: c.name };
    if (c.type === "ttl") return { ...base, TTL: `${c.ttlMs ?? c.intervalMs}ms` };
    const target =
      c.type === "http" ? { HTTP: `http://${host}:${port}${c.path ?? "/"}` }
      : c.type === "grpc" ? { GRPC: `${hostPort(host, port)}${c.grpcService ? `/${c.grpcService}` : ""}`, ...(c.grpcUseTls ? { GRPCUseTLS: true, TLSSkipVerify: true } : {}) }
      : { TCP: `${host}:${port}` };
    return { ...base, ...target, Interval: `${c.intervalMs}ms`, Timeout: `${c.timeoutMs}ms` };
  });
  return {
    ID: id, Name: svc.name, Tags: svc.tags, Address: host, Port: port,
    Meta: { corral_alloc_id: alloc.id, corral_job: alloc.jobId, corral_namespace: alloc.namespace, corral_group: alloc.groupName, corral_task: taskName },
    Checks: checks,
  };
}

export class JobServices implements ServiceHooks {
  private loops = new Map<string, ReturnType<typeof setTimeout>[]>();
  /** Registered task services by service id, to start or stop their checks when runChecks() changes. */
  private registered = new Map<string, { alloc: NodeAlloc; taskName: string }>();
  private stopped = false;

  constructor(private d: ServicesDeps) {}

  async register(alloc: NodeAlloc, taskName: string): Promise<void> {
    const def = serviceDefinition(alloc, taskName, this.d.host);
    const base = this.d.apiUrl();
    if (!def || !base) return;
    for (let attempt = 1; attempt <= REGISTER_ATTEMPTS; attempt++) {
      try {
        const res = await fetch(`${base}/v1/agent/service/register?replace-existing-checks`, {
          method: "PUT", body: JSON.stringify(def), headers: { "content-type": "application/json", ...this.auth() }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        if (res.ok) break;
        const text = (await res.text()).slice(0, 200);
        if (res.status === 404) {
          this.d.log.warn("job service not registered: the discovery plugin is not enabled on this node", { alloc: alloc.id, task: taskName });
          return;
        }
        throw new Error(`${res.status} ${text}`);
      } catch (err) {
        if (attempt === REGISTER_ATTEMPTS) {
          this.d.log.warn("job service registration failed", { alloc: alloc.id, task: taskName, err: (err as Error).message });
          return;
        }
        await new Promise((r) => setTimeout(r, 300 * attempt));
      }
    }
    this.registered.set(def.ID as string, { alloc, taskName });
    if (this.d.runChecks()) this.startChecks(alloc, taskName, def.ID as string);
  }

  /** runChecks() may have changed (the health plugin was enabled or disabled): start or stop the loops. */
  refreshChecks(): void {
    if (this.stopped) return;
    const run = this.d.runChecks();
    for (const [id, r] of this.registered) {
      if (run && !this.loops.has(id)) this.startChecks(r.alloc, r.taskName, id);
      else if (!run) this.stopChecks(id);
    }
  }

  async deregister(alloc: NodeAlloc, taskName: string): Promise<void> {
    const id = taskServiceId(alloc.id, taskName);
    this.stopChecks(id);
    this.registered.delete(id);
    const base = this.d.apiUrl();
    if (!base || !alloc.groupSpec.tasks.find((t) => t.name === taskName)?.service) return;
    try {
      await fetch(`${base}/v1/agent/service/deregister/${encodeURIComponent(id)}`, { method: "PUT", headers: this.auth(), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      // The discovery plugin's anti-entropy cannot help here (the registry still has it); say so.
      this.d.log.warn("job service deregistration failed", { alloc: alloc.id, task: taskName, err: (err as Error).message });
    }
  }

  private auth(): Record<string, string> {
    const t = this.d.token();
    return t ? { "X-Consul-Token": t } : {};
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.loops.keys()]) this.stopChecks(id);
  }

  private startChecks(alloc: NodeAlloc, taskName: string, serviceId: string): void {
    this.stopChecks(serviceId);
    const svc = alloc.groupSpec.tasks.find((t) => t.name === taskName)!.service!;
    const port = svc.port ? (alloc.ports.find((p) => p.task === taskName && p.label === svc.port)?.value ?? 0) : 0;
    const timers: ReturnType<typeof setTimeout>[] = [];
    this.loops.set(serviceId, timers);
    svc.checks.forEach((c, i) => {
      if (c.type === "ttl") return;
      const probe = jobCheckProbe(c, this.d.host, port);
      const run = async () => {
        const r = await probe();
        if (!this.loops.has(serviceId) || this.stopped) return;
        send(this.d, CHECK_RESULT, { checkId: checkId(serviceId, i), status: r.status, output: r.output });
        timers[i] = setTimeout(run, c.intervalMs);
      };
      timers[i] = setTimeout(run, 0);
    });
  }

  private stopChecks(serviceId: string): void {
    for (const t of this.loops.get(serviceId) ?? []) clearTimeout(t);
    this.loops.delete(serviceId);
  }
}

/**
 * A job check as a probe: the health plugin's own http and tcp probes
 * (core/checks/probes.ts, through the SDK), so a check answers the same
 * whichever plugin runs it: Consul's Output with a body excerpt, redirects
 * followed as Consul follows them.
 */
export function jobCheckProbe(c: ServiceCheck, host: string, port: number): () => Promise<ProbeResult> {
  if (c.type === "http") {
    const spec: HttpProbeSpec = { kind: "http", url: `http://${hostPort(host, port)}${c.path ?? "/"}`, method: "GET", headers: [], tlsSkipVerify: false };
    const init = httpInit(spec);
    return () => httpProbe(spec, init, c.timeoutMs, DEFAULT_OUTPUT_MAX_BYTES);
  }
  if (c.type === "grpc") {
    const spec: GrpcProbeSpec = { kind: "grpc", host, port, service: c.grpcService ?? "", tls: c.grpcUseTls === true, tlsSkipVerify: c.grpcUseTls === true };
    return () => grpcProbe(spec, c.timeoutMs);
  }
  return () => tcpProbe({ kind: "tcp", host, port }, c.timeoutMs);
}

/** host:port, an IPv6 literal in brackets. */
function hostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}
