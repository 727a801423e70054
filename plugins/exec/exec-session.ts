// One `alloc exec` session: the command a plan names (alloc-runner.ts
// execPlan: the task's sandbox, user and folder, or `runc exec` into its
// container), its stdin given up front, its output streamed back as it comes
// as newline-delimited JSON frames in Nomad's exec frame shape:
//   {"stdout":{"data":"<base64>"}}  {"stderr":{"data":"<base64>"}}
//   {"exited":true,"result":{"exit_code":N}}   (last; 128+n for a signal n)
// Never through a shell. The command runs in a process group of its own so
// the client going away (or the session's time limit) ends all of it.
import { startSessionProcess, type SessionCommand, type SessionProcess } from "./exec-process.ts";

/** What the one-shot route runs: an interactive session's command, with its input up front and a time limit. */
export interface ExecRun extends SessionCommand {
  /** Written to the command's stdin, which is then closed. */
  stdin: Uint8Array;
  /** The session ends (killing the command) after this long. */
  timeoutMs: number;
  /** The client went away: end the command. */
  signal: AbortSignal;
}

export type ExecFrame =
  | { stdout: { data: string } }
  | { stderr: { data: string } }
  | { exited: true; result: { exit_code: number }; error?: string };

/** A frame as one line (pure). */
export function frameLine(f: ExecFrame): string {
  return `${JSON.stringify(f)}\n`;
}

/** Base64 of a chunk of output, without copying it. */
function base64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
}

/** The session as a stream of frame lines; it ends after the exit frame. The command runs on pipes (exec-process.ts), as an interactive session without a terminal does. */
export function execStream(r: ExecRun): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let proc: SessionProcess | undefined;
  return new ReadableStream<Uint8Array>({
    cancel() {
      proc?.kill(); // the client stopped reading
    },
    start(ctl) {
      let done = false;
      let timedOut = false;
      const send = (f: ExecFrame) => {
        if (done) return;
        try {
          ctl.enqueue(enc.encode(frameLine(f)));
        } catch {}
      };
      const onAbort = () => proc?.kill();
      const timer = setTimeout(() => {
        timedOut = true;
        proc?.kill();
      }, r.timeoutMs);
      r.signal.addEventListener("abort", onAbort);
      proc = startSessionProcess(r, undefined, {
        stdout: (b) => send({ stdout: { data: base64(b) } }),
        stderr: (b) => send({ stderr: { data: base64(b) } }),
        exit: (code, error) => {
          const f: ExecFrame = { exited: true, result: { exit_code: code }, ...(error ? { error } : {}) };
          send(timedOut && !error ? { ...f, error: `the session's time limit (${Math.round(r.timeoutMs / 1000)}s) ended the command` } : f);
          done = true;
          clearTimeout(timer);
          r.signal.removeEventListener("abort", onAbort);
          try {
            ctl.close();
          } catch {}
        },
      });
      proc.write(r.stdin);
      proc.closeStdin();
    },
  });
}
