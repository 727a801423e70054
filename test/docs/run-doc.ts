// Runs a document's blocks (doc-blocks.ts) as a user would, against fresh
// nodes: a temporary working folder, a `corral` command on PATH (this
// checkout's core/main.ts), every port the document names mapped to a free
// one, no CORRAL_* variables from the test's own environment except
// CORRAL_ADDR (pointing at the document's 7700). Nodes the blocks start are
// stopped (SIGTERM, by pid) at the end.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, freePort, sleep, tempDir } from "../helpers/proc.ts";
import { docBlocks, docPorts, substitute, toScript, type DocBlock } from "./doc-blocks.ts";

export interface BlockRun {
  block: DocBlock;
  script?: string;
  code: number | null;
  output: string;
  skipped?: string;
}

function run(script: string, cwd: string, env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", script], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function stopServers(cwd: string): Promise<void> {
  const file = join(cwd, ".pids");
  if (!existsSync(file)) return;
  const pids = readFileSync(file, "utf8").split("\n").filter(Boolean).map(Number);
  writeFileSync(file, "");
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGTERM");
  for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(100);
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
}

/** Runs every block of `file` in order; stops at the first failing one. */
export async function runDoc(file: string, opts: { timeoutMs?: number } = {}): Promise<{ runs: BlockRun[]; ports: Map<number, number>; cwd: string }> {
  const blocks = docBlocks(readFileSync(file, "utf8"));
  const ports = new Map<number, number>();
  for (const p of docPorts(blocks)) ports.set(p, await freePort());
  const cwd = tempDir("corral-doc-");
  const bin = join(cwd, ".bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "corral"), `#!/bin/sh\nexec "${BUN}" "${ENTRY}" "$@"\n`);
  chmodSync(join(bin, "corral"), 0o755);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CORRAL_")) env[k] = v;
  env.PATH = `${bin}:${env.PATH ?? "/usr/bin:/bin"}`;
  env.CORRAL_ADDR = `http://127.0.0.1:${ports.get(7700) ?? 7700}`;
  const runs: BlockRun[] = [];
  const seq = { n: 0 };
  try {
    for (const block of blocks) {
      if (block.stopServers) await stopServers(cwd);
      if (block.kind === "file") {
        writeFileSync(join(cwd, block.file!), substitute(block.code, ports) + "\n");
        runs.push({ block, code: 0, output: "" });
        continue;
      }
      const code = block.skip ? block.instead : block.code;
      if (code === undefined) {
        runs.push({ block, code: 0, output: "", skipped: block.skip });
        continue;
      }
      const script = toScript(substitute(code, ports), seq);
      const r = await run(script, cwd, env, opts.timeoutMs ?? 240_000);
      runs.push({ block, script, ...r });
      if (r.code !== 0 || !block.expect.every((e) => r.output.includes(substitute(e, ports)))) break;
    }
  } finally {
    await stopServers(cwd);
  }
  return { runs, ports, cwd };
}
