// Helpers for the issue-23 read tests (test/security/raft-reads.test.ts):
// pausing processes, signed forwarded reads, reading a KV value as a client sees it.
import type { TestCluster } from "../helpers/cluster.ts";
import { CLUSTER_SECRET } from "../helpers/cluster.ts";
import { signRequest, SIGNATURE_HEADER } from "../../core/http/middleware/cluster-auth.ts";
import { sleep } from "../helpers/proc.ts";

/** SIGSTOP: the process keeps its sockets but runs nothing (a GC pause, a VM stall). */
export function pause(c: TestCluster, i: number): void {
  c.nodes[i]!.proc!.child.kill("SIGSTOP");
}

export function resume(c: TestCluster, i: number): void {
  c.nodes[i]!.proc!.child.kill("SIGCONT");
}

/** What a client sees for GET /v1/kv/<key><query>: the value, "absent", or the error status. */
export async function kvRead(baseUrl: string, key: string, query = "", headers: Record<string, string> = {}): Promise<{ status: number; value?: string | null; body: string; headers: Headers }> {
  const r = await fetch(`${baseUrl}/v1/kv/${key}${query}`, { headers, signal: AbortSignal.timeout(15_000) });
  const body = await r.text();
  if (r.status === 404) return { status: 404, value: null, body, headers: r.headers };
  if (r.status !== 200) return { status: r.status, body, headers: r.headers };
  const [e] = JSON.parse(body) as { Value: string }[];
  return { status: 200, value: Buffer.from(e!.Value, "base64").toString(), body, headers: r.headers };
}

/** Headers of a read some node forwarded to `baseUrl`, signed with the cluster secret as proxyRequest signs it. */
export function signedForwardHeaders(baseUrl: string, pathAndQuery: string, hops: number, secret = CLUSTER_SECRET): Record<string, string> {
  return { "X-Corral-Forwarded": String(hops), [SIGNATURE_HEADER]: signRequest({ secret, node: "raft-reads-test" }, "GET", pathAndQuery, "", { to: new URL(baseUrl).host }) };
}

export async function kvPut(baseUrl: string, key: string, value: string): Promise<Response> {
  return fetch(`${baseUrl}/v1/kv/${key}`, { method: "PUT", body: value, signal: AbortSignal.timeout(15_000) });
}

/** The index of a node other than `except` that leads, waiting for one. */
export async function waitOtherLeader(c: TestCluster, except: number, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const n of c.nodes) {
      if (n.index === except || !n.proc) continue;
      try {
        const r = await fetch(n.url + "/v1/operator/raft", { signal: AbortSignal.timeout(1000) });
        if (r.ok && ((await r.json()) as { role: string }).role === "leader") return n.index;
      } catch {
        // slow or down: ask the next
      }
    }
    await sleep(50);
  }
  throw new Error(`no leader other than node ${except} within ${timeoutMs} ms`);
}

/** Polls until a ?stale read on the node shows `value`. */
export async function waitReplicated(baseUrl: string, key: string, value: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await kvRead(baseUrl, key, "?stale").catch(() => undefined);
    if (r?.value === value) return;
    await sleep(30);
  }
  throw new Error(`${baseUrl} did not apply ${key}=${value} within ${timeoutMs} ms`);
}
