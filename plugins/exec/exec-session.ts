// One `alloc exec` session: the command a plan names (alloc-runner.ts
// execPlan: the task's sandbox, user and folder, or `runc exec` into its
// container), its stdin given up front, its output streamed back as it comes
// as newline-delimited JSON frames in Nomad's exec frame shape:
//   {"stdout":{"data":"<base64>"}}  {"stderr":{"data":"<base64>"}}
//   {"exited":true,"result":{"exit_code":N}}   (last; 128+n for a signal n)
// Never through a shell. The command runs in a process group of its own so
// the client going away (or the session's time limit) ends all of it.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { killGroup } from "./memory.ts";
import type { InsideProcess } from "../container/exec-pid.ts";

export interface ExecRun {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  runAs?: { uid: number; gid: number };
  /** Written to the command's stdin, which is then closed. */
  stdin: Uint8Array;
  /** The session ends (killing the command) after this long. */
  timeoutMs: number;
  /** The client went away: end the command. */
  signal: AbortSignal;
  /** A container: the process runc starts inside, ended with the command (runc's death would orphan it). */
  inside?: InsideProcess;
}

export type ExecFrame =
  | { stdout: { data: string } }
  | { stderr: { data: string } }
  | { exited: true; result: { exit_code: number }; error?: string };

/** A frame as one line (pure). */
export function frameLine(f: ExecFrame): string {
  return `${JSON.stringify(f)}\n`;
}

/** The exit code a shell would report: the code, or 128 + the signal's number. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 9);
}

/** The session as a stream of frame lines; it ends after the exit frame. */
export function execStream(r: ExecRun): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let stop = () => {};
  return new ReadableStream<Uint8Array>({
    cancel() {
      stop(); // the client stopped reading
    },
    start(ctl) {
      let done = false;
      const send = (f: ExecFrame) => {
        if (done) return;
        try {
          ctl.enqueue(enc.encode(frameLine(f)));
        } catch {}
      };
      const end = (f: ExecFrame) => {
        if (done) return;
        send(f);
        done = true;
        r.inside?.release();
        clearTimeout(timer);
        r.signal.removeEventListener("abort", onAbort);
        try {
          ctl.close();
        } catch {}
      };
      let child: ReturnType<typeof spawn>;
      try {
        // detached: a group of its own (bwrap and whatever the command starts), killed as one.
        child = spawn(r.command, r.args, {
          cwd: r.cwd, env: r.env, stdio: ["pipe", "pipe", "pipe"], detached: true,
          ...(r.runAs ? { uid: r.runAs.uid, gid: r.runAs.gid } : {}),
        });
      } catch (err) {
        end({ exited: true, result: { exit_code: 127 }, error: `could not start: ${(err as Error).message}` });
        return;
      }
      const kill = () => {
        if (done || child.pid === undefined) return;
        r.inside?.kill(); // first, while runc (alive) keeps its pid from reuse
        killGroup(child.pid, "SIGKILL");
      };
      stop = kill;
      const onAbort = () => kill();
      r.signal.addEventListener("abort", onAbort);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, r.timeoutMs);
      child.stdout?.on("data", (b: Buffer) => send({ stdout: { data: b.toString("base64") } }));
      child.stderr?.on("data", (b: Buffer) => send({ stderr: { data: b.toString("base64") } }));
      child.stdin?.on("error", () => {}); // a command that does not read its input: EPIPE is not an error here
      child.stdin?.end(Buffer.from(r.stdin));
      child.once("error", (err) => {
        if (child.pid === undefined) end({ exited: true, result: { exit_code: 127 }, error: `could not start: ${err.message}` });
      });
      child.once("close", (code, sig) => {
        const f: ExecFrame = { exited: true, result: { exit_code: exitCodeOf(code, sig) } };
        end(timedOut ? { ...f, error: `the session's time limit (${Math.round(r.timeoutMs / 1000)}s) ended the command` } : f);
      });
    },
  });
}
