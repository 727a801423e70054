// Running the real `corral` CLI many times from one test file without paying
// every cold start in series. Each invocation is still its own process of the
// real entry (core/main.ts) with its own argv and env, exactly as a user runs
// it; only the waiting overlaps. A CLI cold start is mostly CPU spent loading
// modules (~0.7 s of user time), so independent invocations run a few at a time
// (bounded, so a shared 2-core machine is not swamped into timeouts).
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { BUN, ENTRY, ROOT } from "./proc.ts";

export type CliResult = { code: number | null; out: string; err: string };

/** How many CLI processes run at once: one more than the cores (a start also waits on disk), at most 6. */
export const CLI_CONCURRENCY = Math.max(2, Math.min(6, availableParallelism() + 1));

export interface CliOptions {
  /** The environment `env` is laid over (default: this process's). */
  baseEnv?: Record<string, string | undefined>;
  /** Killed after this long, like spawnSync's timeout (default 60 s). */
  timeoutMs?: number;
  /** At most this many processes at once (corralEach; default CLI_CONCURRENCY). */
  concurrency?: number;
}

/** One `corral ARGS` process, resolved when it has exited and its output is read. */
export function corralAsync(args: string[], env: Record<string, string> = {}, opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...(opts.baseEnv ?? process.env), ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    // A process that could not start is a failed result, not an unhandled error event.
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, out, err: err + String(e) });
    });
    // "close" (not "exit"): every byte of stdout/stderr has been read by then.
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/**
 * Every invocation of `list` (argv, optionally with its own env), at most
 * `concurrency` at a time; results in the order of `list`.
 */
export type CliCall = string[] | { args: string[]; env?: Record<string, string> };
export async function corralEach<const L extends readonly CliCall[]>(
  list: L,
  env: Record<string, string> = {},
  opts: CliOptions = {},
): Promise<{ -readonly [K in keyof L]: CliResult }> {
  const results: CliResult[] = new Array(list.length);
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const i = next++;
      const item = list[i]!;
      const { args, env: own } = Array.isArray(item) ? { args: item as string[], env: undefined } : (item as { args: string[]; env?: Record<string, string> });
      results[i] = await corralAsync(args, { ...env, ...own }, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? CLI_CONCURRENCY, list.length) }, worker));
  return results as { -readonly [K in keyof L]: CliResult };
}
