// Several leader-role processes on loopback, each reachable by its peers only
// through an HTTP proxy the test controls. A node advertises its proxy's
// address (node.advertise = "127.0.0.1:PROXY"), so every peer message and
// forwarded request to it crosses the proxy, which can drop traffic to the
// node, or from a given node (it reads the sender from the Raft message
// body): a real partition, symmetric or not, with no root privileges.
import { join } from "node:path";
import { failedBeforeSending } from "../../core/http/connect-error.ts";
import { startCorral, freePort, tempDir, getJson, sleep, type CorralProcess } from "./proc.ts";

export const CLUSTER_SECRET = "cluster-test-secret-0123456789";

interface Proxy {
  port: number;
  /** Drop everything sent to this node. */
  cutInbound: boolean;
  /** Drop Raft messages from these senders (by advertised address). */
  dropFrom: Set<string>;
  server: { stop(force?: boolean): void };
}

export interface ClusterNode {
  index: number;
  address: string; // advertised (the proxy)
  port: number; // real listening port
  dataDir: string;
  proc?: CorralProcess;
  /** Client-facing URL: straight to the node, not through the proxy. */
  url: string;
}

export interface ClusterOptions {
  size: number;
  electionTimeoutMs?: number;
  heartbeatMs?: number;
  snapshotThreshold?: number;
  nodeTtlMs?: number;
  /** leader.failover_heartbeat_ttl; unset: the default (5m). */
  failoverHeartbeatTtlMs?: number;
  extra?: string;
  /** No proxies: nodes advertise their own ports (benchmarks; isolate() is then unavailable). */
  direct?: boolean;
  /** raft.sync; default "normal" (tests need no fsync per commit). */
  sync?: "full" | "normal";
  /** Extra environment for every node process (BUN_OPTIONS for a CPU profile in a benchmark). */
  env?: Record<string, string>;
}

function startProxy(port: number, target: () => number): Proxy {
  const p: Proxy = { port, cutInbound: false, dropFrom: new Set(), server: undefined as never };
  p.server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    idleTimeout: 0,
    async fetch(req) {
      if (p.cutInbound) return new Response("partitioned", { status: 503 });
      // Raft peer streams (WebSocket) cannot cross this proxy, which must see
      // every message to partition: a node's handshake fails here and it
      // keeps to per-message requests, as with a peer that refuses streams.
      if (req.headers.get("upgrade")) return new Response("this test proxy carries no streams", { status: 501 });
      const url = new URL(req.url);
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      if (body && p.dropFrom.size > 0 && url.pathname === "/v1/raft/message") {
        try {
          const from = JSON.parse(new TextDecoder().decode(body)).from as string;
          if (p.dropFrom.has(from)) return new Response("partitioned", { status: 503 });
        } catch {
          // not a raft batch: let it through
        }
      }
      try {
        // The Host passes unchanged, as through NAT or a Host-preserving proxy:
        // a node signs the authority it calls (the advertised proxy), and the
        // receiver checks the signature against the Host it sees.
        const headers = new Headers(req.headers);
        headers.delete("content-length");
        return await fetch(`http://127.0.0.1:${target()}${url.pathname}${url.search}`, { method: req.method, headers, body, signal: req.signal });
      } catch (err) {
        // As a real network would tell the sender: a refused connection (the
        // node is down) delivered nothing, which an uncoded 503 says; any other
        // failure may have delivered the request (502).
        if (failedBeforeSending(err)) return new Response("upstream refused the connection", { status: 503 });
        return new Response("upstream down", { status: 502 });
      }
    },
  });
  return p;
}

export class TestCluster {
  nodes: ClusterNode[] = [];
  private proxies: Proxy[] = [];

  constructor(private opts: ClusterOptions) {}

  async start(): Promise<void> {
    const proxyPorts = await Promise.all(Array.from({ length: this.opts.size }, () => freePort()));
    const ports = await Promise.all(Array.from({ length: this.opts.size }, () => freePort()));
    const base = tempDir("corral-cluster-");
    for (let i = 0; i < this.opts.size; i++) {
      const node: ClusterNode = {
        index: i, address: `127.0.0.1:${this.opts.direct ? ports[i] : proxyPorts[i]}`, port: ports[i]!, dataDir: join(base, `n${i}`),
        url: `http://127.0.0.1:${ports[i]}`,
      };
      this.nodes.push(node);
      if (!this.opts.direct) this.proxies.push(startProxy(proxyPorts[i]!, () => node.port));
    }
    await Promise.all(this.nodes.map((n) => this.startNode(n.index)));
  }

  config(i: number): string {
    const n = this.nodes[i]!;
    const peers = this.nodes.filter((m) => m !== n).map((m) => `"${m.address}"`);
    return [
      `[node]\nname = "leader-${i}"\nadvertise = "${n.address}"\n`,
      `[cluster]\nsecret = "${CLUSTER_SECRET}"\n`,
      `[leader]\npeers = [${peers.join(", ")}]\nelection_timeout = "${this.opts.electionTimeoutMs ?? 1000}ms"\nheartbeat_interval = "${this.opts.heartbeatMs ?? 100}ms"\nnode_ttl = "${this.opts.nodeTtlMs ?? 15_000}ms"\n` +
        (this.opts.failoverHeartbeatTtlMs !== undefined ? `failover_heartbeat_ttl = "${this.opts.failoverHeartbeatTtlMs}ms"\n` : ""),
      `[raft]\nsync = "${this.opts.sync ?? "normal"}"\nsnapshot_threshold = ${this.opts.snapshotThreshold ?? 8192}\n`,
      this.opts.extra ?? "",
    ].join("\n");
  }

  async startNode(i: number): Promise<CorralProcess> {
    const n = this.nodes[i]!;
    n.proc = await startCorral({ role: "leader", port: n.port, dataDir: n.dataDir, config: this.config(i), env: this.opts.env });
    return n.proc;
  }

  async kill(i: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.nodes[i]!.proc?.kill(signal);
    this.nodes[i]!.proc = undefined;
  }

  /** Cuts node i off from its peers both ways (clients still reach it directly). */
  isolate(i: number): void {
    if (this.opts.direct) throw new Error("isolate() needs the proxies (direct: false)");
    this.proxies[i]!.cutInbound = true;
    for (const [j, p] of this.proxies.entries()) if (j !== i) p.dropFrom.add(this.nodes[i]!.address);
  }

  heal(): void {
    for (const p of this.proxies) {
      p.cutInbound = false;
      p.dropFrom.clear();
    }
  }

  /** The index of the node that says it leads (and that its peers agree on), or -1. */
  async leader(): Promise<number> {
    for (const n of this.nodes) {
      if (!n.proc) continue;
      try {
        const r = await getJson(n.url + "/v1/operator/raft", { signal: AbortSignal.timeout(1000) });
        if (r.body.role === "leader") return n.index;
      } catch {
        // down or slow: ask the next
      }
    }
    return -1;
  }

  async waitLeader(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const l = await this.leader();
      if (l >= 0) return l;
      await sleep(20);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.proc?.kill("SIGKILL")));
    for (const p of this.proxies) p.server.stop(true);
  }
}
