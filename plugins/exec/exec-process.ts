// The process of an interactive `alloc exec` session (exec-ws.ts): the
// command an exec plan names (alloc-runner.ts execPlan: the task's sandbox,
// user and folder, or `runc exec` into its container), its input written as
// the client types, its output handed on as it comes.
//
// With a terminal (tty), the command runs on a pseudo-terminal of its own
// (Bun.spawn's `terminal`: a new session whose controlling terminal it is),
// output and errors both on it, as in a shell; window size changes resize it.
// For a container task the terminal runs `runc exec -t` (the plan's
// terminalArgs, container/driver.ts execCommand): runc opens a pty inside
// the container, sets this one raw and copies between the two, and passes
// this one's size on at start and on each SIGWINCH (which resizing this pty
// sends to runc, its foreground process). So the process in the container
// has a terminal of its own: isatty, `tty`, `stty size`, job control, ^C
// from its line discipline; runc's exit code is the process's.
// Without one, pipes; the one-shot route (exec-session.ts) runs its command
// through here too.
// Either way the command leads a process group of its own, killed as one
// when the session ends.
import { spawn } from "node:child_process";
import { killGroup } from "./memory.ts";
import { constants } from "node:os";
import type { InsideProcess } from "../container/exec-pid.ts";

export interface SessionCommand {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  runAs?: { uid: number; gid: number };
  /** The arguments to run with on a terminal, when they differ from `args` (a container: `runc exec -t`). */
  terminalArgs?: string[];
  /** A container: the process runc starts inside, ended with the session (runc's death would orphan it). */
  inside?: InsideProcess;
}

export interface SessionOutput {
  stdout(b: Uint8Array): void;
  stderr(b: Uint8Array): void;
  /** Once, after the last output: the exit code (128+n for a signal n), and why it could not start. */
  exit(code: number, error?: string): void;
}

export interface SessionProcess {
  write(b: Uint8Array): void;
  /** End of input: the pipe is closed; on a terminal, the EOF character (^D) is typed. */
  closeStdin(): void;
  resize(cols: number, rows: number): void;
  kill(): void;
  /** Stop reading the command's output until resume() (pipes: the command blocks on a full pipe). No-op on a terminal. */
  pause(): void;
  resume(): void;
}

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** The exit code a shell would report: the code, or 128 + the signal's number. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 9);
}

/** After the command exits, how long its terminal's last output may take to arrive. */
const PTY_DRAIN_MS = 500;

export function startSessionProcess(cmd: SessionCommand, tty: TerminalSize | undefined, out: SessionOutput): SessionProcess {
  return tty ? onTerminal(cmd, tty, out) : onPipes(cmd, out);
}

function onTerminal(cmd: SessionCommand, size: TerminalSize, out: SessionOutput): SessionProcess {
  let ended = false;
  let drained: () => void = () => {};
  const ptyClosed = new Promise<void>((r) => (drained = r));
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn([cmd.command, ...(cmd.terminalArgs ?? cmd.args)], {
      cwd: cmd.cwd,
      env: { TERM: "xterm-256color", ...cmd.env },
      ...(cmd.runAs ? { uid: cmd.runAs.uid, gid: cmd.runAs.gid } : {}),
      terminal: {
        cols: size.cols, rows: size.rows,
        data: (_t, d) => out.stdout(d),
        exit: () => drained(),
      },
    });
  } catch (err) {
    cmd.inside?.release();
    queueMicrotask(() => out.exit(127, `could not start: ${(err as Error).message}`));
    return { write() {}, closeStdin() {}, resize() {}, kill() {}, pause() {}, resume() {} };
  }
  const terminal = proc.terminal!;
  void proc.exited.then(async (code) => {
    cmd.inside?.release();
    // The pty reaches EOF once every holder of it is gone; a background child keeping it must not hold the session.
    await Promise.race([ptyClosed, Bun.sleep(PTY_DRAIN_MS)]);
    ended = true;
    try {
      terminal.close();
    } catch {}
    out.exit(proc.signalCode ? exitCodeOf(null, proc.signalCode as NodeJS.Signals) : code);
  });
  return {
    write: (b) => {
      if (!ended && !terminal.closed) terminal.write(b);
    },
    closeStdin: () => {
      if (!ended && !terminal.closed) terminal.write("\x04");
    },
    resize: (cols, rows) => {
      if (!ended && !terminal.closed) terminal.resize(cols, rows);
    },
    kill: () => {
      if (ended) return;
      // The terminal's session leader leads its group too. A container's process first, while runc (alive) keeps its pid from reuse.
      const killRunner = () => killGroup(proc.pid, "SIGKILL");
      if (cmd.inside) cmd.inside.kill(killRunner);
      else killRunner();
    },
    // Bun's terminal cannot stop reading; the session bounds what it holds instead (exec-ws.ts).
    pause: () => {},
    resume: () => {},
  };
}

function onPipes(cmd: SessionCommand, out: SessionOutput): SessionProcess {
  let ended = false;
  let child: ReturnType<typeof spawn>;
  try {
    // detached: a group of its own (bwrap and whatever the command starts), killed as one.
    child = spawn(cmd.command, cmd.args, {
      cwd: cmd.cwd, env: cmd.env, stdio: ["pipe", "pipe", "pipe"], detached: true,
      ...(cmd.runAs ? { uid: cmd.runAs.uid, gid: cmd.runAs.gid } : {}),
    });
  } catch (err) {
    cmd.inside?.release();
    queueMicrotask(() => out.exit(127, `could not start: ${(err as Error).message}`));
    return { write() {}, closeStdin() {}, resize() {}, kill() {}, pause() {}, resume() {} };
  }
  const finish = (code: number, error?: string) => {
    if (ended) return;
    ended = true;
    cmd.inside?.release();
    out.exit(code, error);
  };
  child.stdout?.on("data", (b: Buffer) => out.stdout(b));
  child.stderr?.on("data", (b: Buffer) => out.stderr(b));
  child.stdin?.on("error", () => {}); // a command that does not read its input: EPIPE is not an error here
  child.once("error", (err) => {
    if (child.pid === undefined) finish(127, `could not start: ${err.message}`);
  });
  child.once("close", (code, sig) => finish(exitCodeOf(code, sig)));
  return {
    write: (b) => {
      if (!ended && child.stdin?.writable) child.stdin.write(b);
    },
    closeStdin: () => {
      child.stdin?.end();
    },
    resize: () => {}, // no terminal to size
    kill: () => {
      if (ended || child.pid === undefined) return;
      const pid = child.pid;
      const killRunner = () => killGroup(pid, "SIGKILL");
      if (cmd.inside) cmd.inside.kill(killRunner); // first, while runc (alive) keeps its pid from reuse
      else killRunner();
    },
    pause: () => {
      child.stdout?.pause();
      child.stderr?.pause();
    },
    resume: () => {
      child.stdout?.resume();
      child.stderr?.resume();
    },
  };
}
