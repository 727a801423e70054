// HAProxy as the reference proxy of the invoke benches: `mode http`,
// `balance roundrobin`, keep-alive both sides, one thread, its config
// generated in a temp dir.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../test/helpers/proc.ts";
import type { Backend } from "../../test/invoke/helpers.ts";

/**
 * One HAProxy process (one thread, keep-alive both sides) with `lines` after
 * the common global and defaults sections, its config at <dir>/<name>.cfg;
 * resolves once `ready()` does (tried for 5 s).
 */
export async function startHaproxyProcess(dir: string, name: string, lines: string[], ready: () => Promise<unknown>): Promise<{ pid: number; stop(): void }> {
  const cfg = join(dir, `${name}.cfg`);
  writeFileSync(cfg, [
    "global", "  maxconn 4096", "  nbthread 1",
    "defaults", "  mode http", "  option http-keep-alive", "  http-reuse always",
    "  timeout connect 5s", "  timeout client 30s", "  timeout server 30s",
    ...lines, "",
  ].join("\n"));
  const child = spawn("haproxy", ["-db", "-f", cfg], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  for (let i = 0; i < 100; i++) {
    try {
      await ready();
      return { pid: child.pid!, stop: () => child.kill("SIGKILL") };
    } catch {
      await Bun.sleep(50);
    }
  }
  child.kill("SIGKILL");
  throw new Error(`haproxy ${name} did not start: ${err}`);
}

export async function startHaproxy(backends: Backend[]): Promise<{ port: number; pid: number; stop(): void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "corral-haproxy-"));
  const p = await startHaproxyProcess(dir, "haproxy", [
    "frontend f", `  bind 127.0.0.1:${port}`, "  default_backend b",
    "backend b", "  balance roundrobin",
    ...backends.map((b, i) => `  server s${i} 127.0.0.1:${b.port}`),
  ], () => fetch(`http://127.0.0.1:${port}/`));
  return { port, ...p };
}
