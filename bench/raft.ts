// Replicated write throughput and latency: three corral leader-role processes
// on loopback, 1, 16 and 64 concurrent clients writing 100-byte values to
// the leader's KV; then, when Debian's etcd-server is installed, etcd in the
// same 3-process layout under the same load (its v3 JSON gateway, also HTTP),
// and the ratios. Both fsync their logs (corral raft.sync = "full").
// Prints one JSON line.   npx bun bench/raft.ts [--seconds 5] [--clients 1,16,64]
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestCluster } from "../test/helpers/cluster.ts";
import { freePort, sleep } from "../test/helpers/proc.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const SECONDS = Number(opt("seconds", "5"));
const CLIENT_COUNTS = opt("clients", "1,16,64").split(",").map(Number);
const VALUE = "v".repeat(100);

interface Level {
  clients: number;
  writes_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

async function load(clients: number, write: (i: number) => Promise<boolean>): Promise<Level> {
  const lat: number[] = [];
  let errors = 0;
  let n = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const a = performance.now();
        const ok = await write(n++).catch(() => false);
        if (ok) lat.push(performance.now() - a);
        else errors++;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN).toFixed(3));
  return { clients, writes_per_s: Math.round(lat.length / secs), p50_ms: q(0.5), p99_ms: q(0.99), errors };
}

async function benchCorral(): Promise<Level[]> {
  // Durable like etcd (fsync every commit), peers talking directly like etcd's.
  const c = new TestCluster({ size: 3, direct: true, sync: "full" });
  await c.start();
  try {
    const leader = c.nodes[await c.waitLeader()]!;
    const out: Level[] = [];
    for (const clients of CLIENT_COUNTS) {
      out.push(await load(clients, async (i) => {
        const r = await fetch(`${leader.url}/v1/kv/bench/${i % 1000}`, { method: "PUT", body: VALUE });
        return r.ok && (await r.json()) === true;
      }));
    }
    return out;
  } finally {
    await c.stop();
  }
}

async function benchEtcd(): Promise<Level[] | { skipped: string }> {
  if (spawnSync("etcd", ["--version"]).status !== 0) return { skipped: "etcd not installed (apt-get install etcd-server)" };
  const dir = mkdtempSync(join(tmpdir(), "etcd-bench-"));
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const names = ["e0", "e1", "e2"];
  const cluster = names.map((n, i) => `${n}=http://127.0.0.1:${ports[i * 2 + 1]}`).join(",");
  const procs: ChildProcess[] = names.map((name, i) =>
    spawn("etcd", [
      "--name", name, "--data-dir", join(dir, name),
      "--listen-client-urls", `http://127.0.0.1:${ports[i * 2]}`, "--advertise-client-urls", `http://127.0.0.1:${ports[i * 2]}`,
      "--listen-peer-urls", `http://127.0.0.1:${ports[i * 2 + 1]}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${ports[i * 2 + 1]}`,
      "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", "bench",
      "--log-level", "error",
    ], { stdio: "ignore" }),
  );
  try {
    const urls = names.map((_, i) => `http://127.0.0.1:${ports[i * 2]}`);
    let leaderUrl: string | undefined;
    for (let t = 0; t < 200 && !leaderUrl; t++) {
      for (const u of urls) {
        const st = await fetch(u + "/v3/maintenance/status", { method: "POST", body: "{}" }).then((r) => r.json()).catch(() => undefined) as
          | { header?: { member_id?: string }; leader?: string } | undefined;
        if (st?.leader && st.header?.member_id === st.leader) leaderUrl = u;
      }
      if (!leaderUrl) await sleep(100);
    }
    if (!leaderUrl) return { skipped: "etcd cluster did not elect a leader" };
    const value = Buffer.from(VALUE).toString("base64");
    const out: Level[] = [];
    for (const clients of CLIENT_COUNTS) {
      out.push(await load(clients, async (i) => {
        const r = await fetch(leaderUrl + "/v3/kv/put", { method: "POST", body: JSON.stringify({ key: Buffer.from(`bench/${i % 1000}`).toString("base64"), value }) });
        await r.arrayBuffer();
        return r.ok;
      }));
    }
    return out;
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

const corral = await benchCorral();
const etcd = await benchEtcd();
const result: Record<string, unknown> = { bench: "raft", seconds_per_level: SECONDS, value_bytes: 100, corral };
if (Array.isArray(etcd)) {
  result.etcd = etcd;
  result.ratios = corral.map((c, i) => ({
    clients: c.clients,
    throughput_vs_etcd: Number((c.writes_per_s / etcd[i]!.writes_per_s).toFixed(2)),
    p99_vs_etcd: Number((c.p99_ms / etcd[i]!.p99_ms).toFixed(2)),
  }));
} else result.etcd = etcd;
console.log(JSON.stringify(result));
