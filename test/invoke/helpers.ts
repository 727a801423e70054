// Shared by the invoke tests and the benchmark: backend processes, catalog
// registration through a node's agent API, and the proxy listener's port.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { InvokePluginDeps } from "../../plugins/invoke/index.ts";
import { BUN, ROOT, eventually, getJson, type CorralProcess } from "../helpers/proc.ts";

export const BACKEND = join(ROOT, "test/invoke/backend.ts");

export interface Backend {
  id: string;
  port: number;
  child: ChildProcess;
  url: string;
  control(q: string): Promise<void>;
  served(): Promise<number>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<Backend>();

export async function startBackend(id: string, port = 0): Promise<Backend> {
  const child = spawn(BUN, [BACKEND, id, String(port)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const ready = new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr!.on("data", (d) => (out += d));
    child.once("exit", (code) => reject(new Error(`backend ${id} exited (${code}): ${out}`)));
  });
  const p = await ready;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const b: Backend = {
    id, port: p, child, url: `http://127.0.0.1:${p}`,
    async control(q) {
      const r = await fetch(`${b.url}/__control?${q}`);
      if (!r.ok) throw new Error(`control ${q}: ${r.status}`);
    },
    async served() {
      return ((await (await fetch(`${b.url}/__stats`)).json()) as { served: number }).served;
    },
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      live.delete(b);
    },
  };
  live.add(b);
  return b;
}

export async function killBackends(): Promise<void> {
  await Promise.all([...live].map((b) => b.kill()));
}

/** Registers `b` as an instance of `service` on `node` with a passing TTL check. */
export async function register(node: CorralProcess, service: string, b: Pick<Backend, "id" | "port">, opts: { weight?: number; id?: string; token?: string } = {}): Promise<string> {
  const id = opts.id ?? `${service}-${b.id}`;
  const r = await fetch(`${node.url}/v1/agent/service/register`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...(opts.token ? { "x-consul-token": opts.token } : {}) },
    body: JSON.stringify({
      ID: id, Name: service, Address: "127.0.0.1", Port: b.port,
      ...(opts.weight ? { Weights: { Passing: opts.weight, Warning: 1 } } : {}),
      Check: { CheckID: `check-${id}`, TTL: "10m", Status: "passing" },
    }),
  });
  if (!r.ok) throw new Error(`register ${id}: ${r.status} ${await r.text()}`);
  return id;
}

export async function setCheck(node: CorralProcess, serviceId: string, status: "pass" | "fail"): Promise<void> {
  const r = await fetch(`${node.url}/v1/agent/check/${status}/check-${serviceId}`, { method: "PUT" });
  if (!r.ok) throw new Error(`check ${status} ${serviceId}: ${r.status}`);
}

/** Waits until the catalog lists `n` passing instances of `service`. */
export async function waitPassing(node: CorralProcess, service: string, n: number, timeoutMs = 10_000, token?: string): Promise<void> {
  await eventually(async () => {
    const r = await getJson<unknown[]>(`${node.url}/v1/health/service/${service}?passing`, { headers: token ? { "x-consul-token": token } : {} });
    return r.status === 200 && r.body.length === n;
  }, timeoutMs, 50);
}

/** The proxy listener's port (tests configure port 0). */
export async function proxyPort(node: CorralProcess, token?: string): Promise<number> {
  return eventually(async () => {
    const r = await getJson<{ listener: { port: number } | null }>(`${node.url}/v1/invoke-config`, { headers: token ? { "x-consul-token": token } : {} });
    return r.status === 200 && r.body.listener ? r.body.listener.port : undefined;
  }, 10_000, 50);
}

export interface InvokeStatus {
  service: string;
  watched: boolean;
  exists: boolean;
  policy: { strategy: string; tryTimeoutMs: number; timeoutMs: number; maxRetries: number };
  instances: { id: string; port: number; inflight: number; breaker: string; ejections: number }[];
  budget: { requests: number; retries: number; allowance: number; exhausted: number } | null;
}

export async function invokeStatus(node: CorralProcess, service: string): Promise<InvokeStatus> {
  return (await getJson<InvokeStatus>(`${node.url}/v1/invoke-config/${service}`)).body;
}

/** Sends `count` GETs through the proxy (by Host), `concurrency` at a time; returns bodies by backend id and failures. */
export async function load(port: number, host: string, count: number, concurrency = 8, path = "/"): Promise<{ by: Map<string, number>; failures: string[] }> {
  const by = new Map<string, number>();
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      try {
        const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { host } });
        const text = await r.text();
        if (r.status !== 200) failures.push(`${r.status} ${text.slice(0, 200)}`);
        else by.set(text, (by.get(text) ?? 0) + 1);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { by, failures };
}

/** For in-process plugin tests: every service has these passing instances on 127.0.0.1 (id -> port), with no catalog behind them. */
export function fixedInstances(instances: Record<string, number>): NonNullable<InvokePluginDeps["source"]> {
  const passing = Object.entries(instances).map(([id, port]) => ({ key: `n/${id}`, node: "n", serviceId: id, address: "127.0.0.1", port, weight: 1 }));
  return () => ({
    watch(_service, on) {
      queueMicrotask(() => on.update({ exists: true, passing }));
      return { stop() {} };
    },
  });
}
