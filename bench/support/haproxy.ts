// HAProxy as the reference proxy of the invoke benches: `mode http`,
// `balance roundrobin`, keep-alive both sides, one thread, its config
// generated in a temp dir.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../test/helpers/proc.ts";
import type { Backend } from "../../test/invoke/helpers.ts";

export async function startHaproxy(backends: Backend[]): Promise<{ port: number; pid: number; stop(): void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "corral-haproxy-"));
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(cfg, [
    "global", "  maxconn 4096", "  nbthread 1",
    "defaults", "  mode http", "  option http-keep-alive", "  http-reuse always",
    "  timeout connect 5s", "  timeout client 30s", "  timeout server 30s",
    "frontend f", `  bind 127.0.0.1:${port}`, "  default_backend b",
    "backend b", "  balance roundrobin",
    ...backends.map((b, i) => `  server s${i} 127.0.0.1:${b.port}`),
    "",
  ].join("\n"));
  const child = spawn("haproxy", ["-db", "-f", cfg], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return { port, pid: child.pid!, stop: () => child.kill("SIGKILL") };
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error(`haproxy did not start: ${err}`);
}
