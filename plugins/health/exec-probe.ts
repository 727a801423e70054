// Exec (Args) checks: the argument vector is run without a shell, in its
// own process group, with a small environment (PATH, HOME, LANG… as the
// exec driver gives tasks: the agent's own environment may hold the cluster
// secret). Exit 0 is passing, 1 warning, anything else critical (Consul's
// rule). stdout and stderr are captured together up to `maxBytes`; past
// the timeout the whole process group is killed (SIGKILL) and the check is
// critical. Only with plugins.health.enable_exec_checks = true (index.ts).
// A root agent runs them as plugins.health.exec_check_user (nobody), in "/":
// Args come from whoever may register a service, and must not read the
// agent's data dir.
import { spawn } from "node:child_process";
import { type CheckStatus, formatDuration, INHERITED_ENV } from "../../core/sdk/index.ts";
import type { ExecProbeSpec } from "./definition.ts";
import { clipCheckOutput as clip, utf8Prefix, type ProbeResult } from "../../core/sdk/index.ts";

export function exitStatus(code: number | null): CheckStatus {
  return code === 0 ? "passing" : code === 1 ? "warning" : "critical";
}

export function checkEnv(agentEnv: Record<string, string | undefined> = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of INHERITED_ENV) if (agentEnv[k] !== undefined) env[k] = agentEnv[k]!;
  return env;
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export function execProbe(
  p: ExecProbeSpec, timeoutMs: number, maxBytes: number, env: Record<string, string>, stop?: AbortSignal,
  runAs?: { uid: number; gid: number },
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const kept = new Uint8Array(maxBytes + 4);
    let have = 0;
    let total = 0;
    let settled = false;
    let timedOut = false;
    const child = spawn(p.args[0]!, p.args.slice(1), {
      detached: true, shell: false, stdio: ["ignore", "pipe", "pipe"], env, ...(runAs ? { uid: runAs.uid, gid: runAs.gid, cwd: "/" } : {}),
    });
    const collect = (chunk: Buffer) => {
      const take = Math.min(chunk.length, kept.length - have);
      if (take > 0) kept.set(chunk.subarray(0, take), have);
      have += Math.max(0, take);
      total += chunk.length;
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop?.removeEventListener("abort", onStop);
      resolve({ status: r.status, output: clip(r.output) });
    };
    const output = () => {
      const text = utf8Prefix(kept.subarray(0, have), maxBytes);
      return total > maxBytes ? `Captured ${Math.min(total, maxBytes)} of ${total} bytes\n...\n${text}` : text;
    };
    const onStop = () => killGroup(child.pid);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    stop?.addEventListener("abort", onStop);
    child.once("error", (err) => finish({ status: "critical", output: `exec ${p.args[0]}: ${err.message}` }));
    child.once("close", (code, signal) => {
      if (timedOut) return finish({ status: "critical", output: `Timed out (${formatDuration(timeoutMs)}) running check\n${output()}` });
      if (code === null) return finish({ status: "critical", output: `killed by ${signal}\n${output()}` });
      finish({ status: exitStatus(code), output: output() });
    });
  });
}
