// Start a corral node as a child process and wait for it to serve
// /v1/healthz. Shared by test/build/build.test.ts and build/startup-time.ts.
import { createServer } from "node:net";
import { join, resolve, dirname } from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** node_modules/.bin/NAME of the repo if present (npx does not work outside it), else PATH. */
export function tool(name: string): string | null {
  const local = join(ROOT, "node_modules/.bin", name);
  if (existsSync(local)) return local;
  return Bun.which(name);
}

const live = new Set<Subprocess>();

/** SIGKILL every child still running (for afterAll / exit paths). */
export function killAll(): void {
  for (const p of live) {
    try {
      p.kill("SIGKILL");
    } catch {}
  }
  live.clear();
}

export interface RunningNode {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  url: string;
  startedAt: number;
  /** Everything the child wrote so far (stdout then stderr), for error messages. */
  output(): string;
  /** Polls GET /v1/healthz until 200; resolves to ms from spawn to that 200. */
  waitHealthy(timeoutMs: number, pollMs?: number): Promise<number>;
  /** SIGTERM, wait up to graceMs for exit, then SIGKILL. Resolves to the exit code (null if killed). */
  stop(graceMs?: number): Promise<{ code: number | null; graceful: boolean }>;
}

export function spawnNode(cmd: string[], opts: { cwd: string; port: number; env?: Record<string, string> }): RunningNode {
  const startedAt = performance.now();
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
  });
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  let out = "";
  let err = "";
  const drain = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of s) add(dec.decode(chunk, { stream: true }));
    } catch {}
  };
  void drain(proc.stdout, (t) => (out += t));
  void drain(proc.stderr, (t) => (err += t));
  const url = `http://127.0.0.1:${opts.port}`;
  const output = () => `--- stdout ---\n${out.slice(-4000)}\n--- stderr ---\n${err.slice(-4000)}`;

  return {
    proc,
    port: opts.port,
    url,
    startedAt,
    output,
    async waitHealthy(timeoutMs, pollMs = 5) {
      const deadline = startedAt + timeoutMs;
      while (performance.now() < deadline) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`${cmd.join(" ")} exited (code ${proc.exitCode}, signal ${proc.signalCode}) before healthy\n${output()}`);
        }
        try {
          const res = await fetch(`${url}/v1/healthz`, { signal: AbortSignal.timeout(2000) });
          await res.arrayBuffer();
          if (res.status === 200) return performance.now() - startedAt;
        } catch {}
        await Bun.sleep(pollMs);
      }
      throw new Error(`${cmd.join(" ")} not healthy after ${timeoutMs} ms\n${output()}`);
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null) return { code: proc.exitCode, graceful: true };
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
      if (!exited) {
        proc.kill("SIGKILL");
        await proc.exited;
        return { code: null, graceful: false };
      }
      return { code: proc.exitCode, graceful: true };
    },
  };
}
