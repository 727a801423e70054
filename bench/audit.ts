// What the audit log and ACL checks cost a write, on a dev node: KV PUT
// latency (p50, p99, mean; sequential, then 16 at a time) with ACLs off,
// ACLs on with audit off, and ACLs on with audit on (records batched into
// one AuditAppend per audit_flush_interval). Each mode runs on a fresh node,
// raft.sync = "full" (the default).
//
//   bun bench/audit.ts [--writes 2000] [--rounds 3]
//
// Prints one JSON line.
import { killAll, startCorral } from "../test/helpers/proc.ts";

const writes = Number(process.argv[process.argv.indexOf("--writes") + 1] || 2000);

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => Number(s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(3));
  return { p50: q(0.5), p99: q(0.99), mean: Number((s.reduce((a, b) => a + b, 0) / s.length).toFixed(3)) };
}

async function mode(config: string, token?: () => string) {
  const node = await startCorral({ role: "dev", config });
  const headers: Record<string, string> = {};
  if (token) {
    const boot = await (await fetch(node.url + "/v1/acl/bootstrap", { method: "PUT" })).json() as { SecretID: string };
    headers["X-Consul-Token"] = boot.SecretID;
  }
  const put = async (i: number) => {
    const t = performance.now();
    const r = await fetch(`${node.url}/v1/kv/bench/${i % 100}`, { method: "PUT", body: "v", headers });
    if (r.status !== 200) throw new Error(`PUT answered ${r.status}`);
    await r.arrayBuffer();
    return performance.now() - t;
  };
  for (let i = 0; i < 100; i++) await put(i); // warm-up
  const sequential: number[] = [];
  for (let i = 0; i < writes; i++) sequential.push(await put(i));
  const concurrent: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < writes) concurrent.push(await put(next++));
  }));
  const throughput = Math.round(writes / ((performance.now() - t0) / 1000));
  const audited = token ? ((await (await fetch(node.url + "/v1/audit?limit=1000", { headers })).json()) as unknown[]).length : 0;
  await node.kill();
  return { sequential: stats(sequential), concurrent16: { ...stats(concurrent), writesPerSec: throughput }, auditRecordsSeen: audited };
}

const acl = '[plugins.authz]\nenabled = true\n';
const modes = {
  aclOff: () => mode(""),
  aclOnAuditOff: () => mode(acl + "audit = false\n", () => ""),
  aclOnAuditOn: () => mode(acl + "audit = true\n", () => ""),
};
// Rounds interleave the modes, so a busy neighbour skews all of them alike; each figure is the median over rounds.
const rounds = Number(process.argv[process.argv.indexOf("--rounds") + 1] || 3);
const runs: Record<string, Awaited<ReturnType<typeof mode>>[]> = { aclOff: [], aclOnAuditOff: [], aclOnAuditOn: [] };
for (let r = 0; r < rounds; r++) for (const [name, run] of Object.entries(modes)) runs[name]!.push(await run());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = Object.fromEntries(Object.entries(runs).map(([name, rs]) => [name, {
  sequentialP50Ms: median(rs.map((x) => x.sequential.p50)), sequentialMeanMs: median(rs.map((x) => x.sequential.mean)),
  concurrent16P50Ms: median(rs.map((x) => x.concurrent16.p50)), concurrent16WritesPerSec: median(rs.map((x) => x.concurrent16.writesPerSec)),
  auditRecordsSeen: median(rs.map((x) => x.auditRecordsSeen)),
}]));
console.log(JSON.stringify({ bench: "audit", writes, rounds, ...summary }));
await killAll();
