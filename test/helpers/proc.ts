// Starts real corral processes from the real entry point (core/main.ts under
// Bun) on free loopback ports, with their own data dirs, and cleans up.
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { signRequest, SIGNATURE_HEADER } from "../../core/http/middleware/cluster-auth.ts";
import { pickInSlice, portSlice } from "./port-slice.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const ENTRY = join(ROOT, "core/main.ts");
export const BUN = process.execPath; // tests run under bun

/**
 * A loopback port free for TCP and UDP, chosen below the kernel's ephemeral
 * range: the nodes a test starts bind port 0 for their DNS and invoke
 * listeners, and a port the kernel hands out there could be one picked here
 * for a node not started yet ("port in use"). Never the same port twice in
 * this process, and, when the suite runs as concurrent shards, never a port
 * another shard may pick (each shard has its own slice: port-slice.ts).
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = pickInSlice(FIRST_PICKED_PORT, EPHEMERAL_LOW, SLICE, Math.random());
    if (handedOut.has(port)) continue;
    if ((await bindable(port, "tcp")) && (await bindable(port, "udp"))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${FIRST_PICKED_PORT}-${EPHEMERAL_LOW - 1}`);
}

const FIRST_PICKED_PORT = 10_000;
const EPHEMERAL_LOW = (() => {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST_PICKED_PORT + 1000 ? low : 32_768;
  } catch {
    return 32_768; // Linux's default start
  }
})();
const handedOut = new Set<number>();
const SLICE = portSlice(process.env);

function bindable(port: number, proto: "tcp" | "udp"): Promise<boolean> {
  return new Promise((res) => {
    if (proto === "tcp") {
      const s = createServer();
      s.once("error", () => res(false));
      s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
    } else {
      const u = createSocket("udp4");
      u.once("error", () => {
        u.close();
        res(false);
      });
      u.bind(port, "127.0.0.1", () => u.close(() => res(true)));
    }
  });
}

export function tempDir(prefix = "corral-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CorralProcess {
  child: ChildProcess;
  port: number;
  url: string;
  dataDir: string;
  /** The config file written from StartOptions.config, if any. */
  configFile?: string;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  role?: "dev" | "leader" | "agent";
  port?: number;
  dataDir?: string;
  /** TOML text; written to dataDir/../corral.toml and passed with --config. */
  config?: string;
  args?: string[];
  env?: Record<string, string>;
  /** Wait for /v1/healthz (default true). */
  waitReady?: boolean;
  /** Another checkout's core/main.ts (an older release, for upgrade tests); default this one's. */
  entry?: string;
}

const live = new Set<CorralProcess>();

export async function startCorral(opts: StartOptions = {}): Promise<CorralProcess> {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? join(tempDir(), "data");
  const entry = opts.entry ?? ENTRY;
  const args = [entry, opts.role ?? "dev", "--http-port", String(port), "--data-dir", dataDir];
  let configFile: string | undefined;
  // Tests run many nodes at once: let each DNS listener take a free port
  // unless the test configures [plugins.dns] itself.
  const config = opts.config ?? "";
  configFile = join(tempDir("corral-cfg-"), "corral.toml");
  let text = config.includes("[plugins.dns]") ? config : `${config}\n[plugins.dns]\nport = 0\n`;
  // Same for the invoke proxy listener (default 7701).
  if (!config.includes("[plugins.invoke]")) text += `\n[plugins.invoke]\nport = 0\n`;
  writeFileSync(configFile, text);
  args.push("--config", configFile);
  args.push(...(opts.args ?? []));
  const child = spawn(BUN, args, {
    cwd: resolve(entry, "../.."),
    env: { ...process.env, CORRAL_NODE_LOG_LEVEL: "info", ...healthThresholdsOff(text, opts.env), ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | string>((res) => child.once("exit", (code, sig) => res(code ?? sig ?? -1)));
  const p: CorralProcess = {
    child, port, url: `http://127.0.0.1:${port}`, dataDir, configFile, output: () => out, exited,
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const r = await exited;
      live.delete(p);
      return r;
    },
  };
  live.add(p);
  if (opts.waitReady !== false) await waitHealthy(p);
  return p;
}

/**
 * The node's health from the machine's CPU and memory (core/cluster/node-monitor.ts:
 * "warning" past 90% for a minute) is off unless the test sets it: on a busy machine
 * (the suite's shards side by side) it would flip on its own, adding log entries and
 * changing node answers under tests that count or compare them. test/monitor sets its own.
 */
function healthThresholdsOff(config: string, env: Record<string, string> | undefined): Record<string, string> {
  const off: Record<string, string> = {};
  for (const key of ["cpu_warning_percent", "memory_warning_percent"]) {
    const name = `CORRAL_LEADER_${key.toUpperCase()}`;
    if (!config.includes(key) && env?.[name] === undefined && process.env[name] === undefined) off[name] = "0";
  }
  return off;
}

// 60 s: a node's start is ~1.5 s of CPU; on a loaded 2-core machine it took past 20 s.
export async function waitHealthy(p: CorralProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (p.child.exitCode !== null) throw new Error(`corral exited early (${p.child.exitCode}):\n${p.output()}`);
    try {
      const r = await fetch(p.url + "/v1/healthz", { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await sleep(50);
  }
  throw new Error(`corral at ${p.url} not healthy after ${timeoutMs} ms:\n${p.output()}`);
}

export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill("SIGKILL")));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls fn until it returns a truthy value or the time runs out. */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await sleep(stepMs);
  }
}

export async function getJson<T = any>(url: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: r.status, body: body as T, headers: r.headers };
}

/** A signed agent/peer RPC, as an agent would send it (signed as node `node`, a fresh nonce each call). */
export async function signedPost(baseUrl: string, path: string, secret: string, body: unknown, node = "test-node") {
  const text = JSON.stringify(body);
  return getJson(baseUrl + path, {
    method: "POST",
    headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signRequest({ secret, node }, "POST", path, text, { to: new URL(baseUrl).host }) },
    body: text,
  });
}

export function devSecretOf(dataDir: string): string {
  return readFileSync(join(dataDir, "cluster-secret"), "utf8").trim();
}

export function cleanup(dir: string) {
  rmSync(dir, { recursive: true, force: true });
}
