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

/**
 * An external plugin whose module code leaves `marker` behind when it runs:
 * proof that the node executed it. Its file is written with `mode`.
 */
export function evilPlugin(name: string, marker: string): string {
  return `import { writeFileSync } from "node:fs";
import { z } from "zod";
writeFileSync(${JSON.stringify(marker)}, "ran as uid " + process.getuid());
export default { name: ${JSON.stringify(name)}, version: "1.0.0", configSchema: z.object({}).strict(), setup() { return {}; } };
`;
}

/** A harmless plugin with one route, GET /v1/<name>. */
export function routePlugin(name: string): string {
  return `import { z } from "zod";
import { createRoute } from "@hono/zod-openapi";
export default {
  name: ${JSON.stringify(name)}, version: "1.0.0", configSchema: z.object({}).strict(),
  setup(ctx) {
    ctx.route(createRoute({ method: "get", path: "/v1/${name}", responses: { 200: { description: "ok" } } }), (c) => c.json({ ok: true }), { permission: "none" });
    return {};
  },
};
`;
}
