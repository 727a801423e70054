// A template's change_script (Nomad's), run once per re-rendering that asks
// for it. Where and as whom is the caller's decision (alloc-runner.ts): the
// argv it gets is either the task's sandbox around the script (bwrap with
// the task's binds, user and network mode: sandbox.ts), for a container
// task `runc exec` into its running container (its user, namespaces and
// environment), or, for a task that is not isolated, the script itself
// spawned as the task's user in its folder. Never through a shell; the agent reads nothing the script wrote
// but the tail of its output, for the event.
import { spawn } from "node:child_process";
import { killGroup } from "../memory.ts";

/** How much of the script's output an event quotes. */
const OUTPUT_TAIL = 400;

export interface ScriptRun {
  argv: { command: string; args: string[] };
  cwd: string;
  env: Record<string, string>;
  runAs?: { uid: number; gid: number };
  timeoutMs: number;
  /**
   * A container task's script is `runc exec`: the process it starts inside
   * is not in runc's group, so the timeout kills it through this first
   * (plugins/container/exec-pid.ts); released when runc ends.
   */
  inside?: { kill(): void; release(): void };
  spawnFn?: typeof spawn;
}

export type ScriptResult =
  | { ok: true; how: string }
  | { ok: false; how: string };

/** Runs the script to its end (or its timeout, which kills its whole process group). Never throws. */
export function runChangeScript(r: ScriptRun): Promise<ScriptResult> {
  return new Promise((resolve) => {
    let out = "";
    const keep = (b: Buffer) => {
      out = (out + b.toString("utf8")).slice(-OUTPUT_TAIL * 2);
    };
    let child: ReturnType<typeof spawn>;
    try {
      // detached: a group of its own, so the timeout kills whatever it started (bwrap and the sandbox too).
      child = (r.spawnFn ?? spawn)(r.argv.command, r.argv.args, {
        cwd: r.cwd, env: r.env, stdio: ["ignore", "pipe", "pipe"], detached: true,
        ...(r.runAs ? { uid: r.runAs.uid, gid: r.runAs.gid } : {}),
      });
    } catch (err) {
      r.inside?.release();
      return resolve({ ok: false, how: `could not start: ${(err as Error).message}` });
    }
    let timedOut = false;
    let settled = false;
    const finish = (res: ScriptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      r.inside?.release();
      resolve(res);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      r.inside?.kill(); // first, while runc (alive) keeps its pid from reuse
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
      // Something that left the group may still hold the output pipes open: do not wait for it.
      setTimeout(() => finish({ ok: false, how: `timed out after ${r.timeoutMs / 1000}s and was killed` }), 2_000).unref();
    }, r.timeoutMs);
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.once("error", (err) => {
      if (child.pid === undefined) finish({ ok: false, how: `could not start: ${err.message}` });
    });
    child.once("close", (code, signal) => {
      const tail = out.trim().slice(-OUTPUT_TAIL);
      const said = tail ? `; output: ${tail}` : "";
      if (timedOut) return finish({ ok: false, how: `timed out after ${r.timeoutMs / 1000}s and was killed${said}` });
      if (code === 0) return finish({ ok: true, how: `exited 0${said}` });
      finish({ ok: false, how: `${signal ? `was killed by ${signal}` : `exited ${code}`}${said}` });
    });
  });
}
