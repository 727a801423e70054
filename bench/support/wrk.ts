// wrk (Debian's HTTP load generator) run from a bench: req/s, p50/p99 from
// its latency distribution, and the CPU a server process spent per request
// during the run (/proc/<pid>/stat), which other load on a shared machine
// disturbs far less than req/s.
import { execFileSync } from "node:child_process";
import { cpuSeconds } from "./cpu.ts";

export interface Figures {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU (user + system) the proxy process spent per request, in microseconds: steadier than req/s on a shared machine. */
  cpuUsPerReq?: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

/** Runs wrk and reads req/s and the p50/p99 of its latency distribution. */
export function wrk(url: string, connections: number, seconds: number, host?: string, pid?: number, headers: Record<string, string> = {}): Figures {
  const extra = Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
  const a = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", ...(host ? ["-H", `Host: ${host}`] : []), ...extra, url];
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const out = execFileSync("wrk", a, { encoding: "utf8" });
  const cpu = pid ? cpuSeconds(pid) - cpu0 : 0;
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(out);
    if (!m) throw new Error(`wrk output without ${p}%:\n${out}`);
    return Number(m[1]) * UNIT_MS[m[2]!]!;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`wrk output without Requests/sec:\n${out}`);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
  if (errors) process.stderr.write(`wrk ${url} (${host ?? "-"}): ${errors[0]}\n`);
  return { rps: Math.round(Number(rps[1])), p50Ms: round3(pct("50")), p99Ms: round3(pct("99")), ...(pid && total ? { cpuUsPerReq: Math.round((cpu * 1e6) / total) } : {}) };
}

export const round3 = (n: number) => Math.round(n * 1000) / 1000;

