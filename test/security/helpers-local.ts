// Helpers for test/security/local.test.ts: file modes, a child's umask,
// CPU time of a process, and the raw SQLite of a stopped node.
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startCorral, type CorralProcess, type StartOptions } from "../helpers/proc.ts";

/** Starts a node whose process inherits `mask` as its umask (spawn has no umask option). */
export async function startUnderUmask(mask: number, opts: StartOptions = {}): Promise<CorralProcess> {
  const before = process.umask(mask);
  try {
    // Kept until the node is up: the child is spawned somewhere inside startCorral.
    return await startCorral(opts);
  } finally {
    process.umask(before);
  }
}

export function modeOf(path: string): number {
  return lstatSync(path).mode & 0o777;
}

/** Every path under dir (not following symlinks), skipping the named top-level entries. */
export function walk(dir: string, skip: string[] = []): string[] {
  const out: string[] = [];
  const visit = (p: string) => {
    out.push(p);
    const st = lstatSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) visit(join(p, n));
  };
  for (const n of readdirSync(dir)) if (!skip.includes(n)) visit(join(dir, n));
  return out;
}

/** utime + stime of a process, in clock ticks (Linux /proc). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

export function octal(n: number): string {
  return "0" + n.toString(8);
}
