// Task output: each stream (stdout, stderr) of each task goes to
// <allocDir>/logs/<task>.<stream>.log. The task writes that file itself
// (its stdout/stderr are the file, opened for append, not a pipe the agent
// reads): output keeps landing in the same file while the agent is stopped,
// restarted or upgraded, and no task dies of a broken pipe. Past
// max_log_file_bytes the agent rotates it by copy and truncate: the current
// content is copied to .log.1 (newest) … .log.<max_log_files-1> (oldest,
// then deleted) and the file is truncated; the task's append-mode descriptor
// goes on writing at its new end. Bytes the task writes between the copy and
// the truncate are lost (the price of a file the agent does not hold).
// Reading returns the files oldest first; following keeps the current file
// open and notices a rotation by .log.1 changing (a new inode) or the file
// shrinking, so nothing is repeated across it.
import { closeSync, copyFileSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";

export type Stream = "stdout" | "stderr";

export function logPath(logDir: string, task: string, stream: Stream, generation = 0): string {
  return join(logDir, `${task}.${stream}.log${generation ? `.${generation}` : ""}`);
}

export class RotatingLog {
  private fd: number;
  private size: number;

  constructor(private dir: string, private task: string, private stream: Stream, private maxBytes: number, private maxFiles: number) {
    mkdirSync(dir, { recursive: true });
    this.fd = openSync(this.path(0), "a");
    this.size = fstatSync(this.fd).size;
  }

  /** The append-mode descriptor to hand a task as its stdout or stderr. */
  get descriptor(): number {
    return this.fd;
  }

  private path(gen: number): string {
    return logPath(this.dir, this.task, this.stream, gen);
  }

  /** Writes from the agent itself (tests, messages), rotating exactly at the limit. */
  write(chunk: Uint8Array): void {
    let rest = chunk;
    while (rest.length > 0) {
      if (this.size >= this.maxBytes) this.rotate();
      const room = this.maxBytes - this.size;
      const part = rest.length > room ? rest.subarray(0, room) : rest;
      writeSync(this.fd, part);
      this.size += part.length;
      rest = rest.subarray(part.length);
    }
  }

  /** Rotates if the task filled the file (called on a timer: the task writes without the agent). */
  rotateIfFull(): void {
    try {
      this.size = fstatSync(this.fd).size;
      if (this.size >= this.maxBytes) this.rotate();
    } catch {
      // closed
    }
  }

  private rotate(): void {
    const last = this.maxFiles - 1;
    if (last >= 1) {
      rmSync(this.path(last), { force: true });
      for (let g = last - 1; g >= 1; g--) if (existsSync(this.path(g))) renameSync(this.path(g), this.path(g + 1));
      copyFileSync(this.path(0), this.path(1));
    }
    ftruncateSync(this.fd, 0);
    this.size = 0;
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/** Existing files of a stream, oldest first (the current one last). */
export function logFiles(logDir: string, task: string, stream: Stream, maxFiles = 100): string[] {
  const out: string[] = [];
  for (let g = maxFiles; g >= 1; g--) if (existsSync(logPath(logDir, task, stream, g))) out.push(logPath(logDir, task, stream, g));
  if (existsSync(logPath(logDir, task, stream))) out.push(logPath(logDir, task, stream));
  return out;
}

const CHUNK = 64 * 1024;

function drain(fd: number, pos: number, emit: (b: Uint8Array) => void): number {
  for (;;) {
    const buf = new Uint8Array(CHUNK);
    const n = readSync(fd, buf, 0, CHUNK, pos);
    if (n <= 0) return pos;
    emit(buf.subarray(0, n));
    pos += n;
  }
}

/**
 * The stream's content as a ReadableStream; with `follow`, stays open and
 * sends what is written later (polling every pollMs) until `signal` aborts.
 */
export function readLogs(logDir: string, task: string, stream: Stream, opts: { follow: boolean; signal?: AbortSignal; pollMs?: number }): ReadableStream<Uint8Array> {
  let cancelled = false;
  const open = () => opts.follow && !cancelled && !opts.signal?.aborted;
  return new ReadableStream<Uint8Array>({
    cancel() {
      cancelled = true;
    },
    async start(ctl) {
      const emit = (b: Uint8Array) => {
        if (!cancelled) ctl.enqueue(b);
      };
      const files = logFiles(logDir, task, stream);
      const current = logPath(logDir, task, stream);
      for (const f of files.filter((f) => f !== current)) {
        const fd = openSync(f, "r");
        drain(fd, 0, emit);
        closeSync(fd);
      }
      if (!existsSync(current)) {
        if (!opts.follow) return void ctl.close();
        mkdirSync(logDir, { recursive: true });
        closeSync(openSync(current, "a"));
      }
      let fd = openSync(current, "r");
      let pos = drain(fd, 0, emit);
      const newest = logPath(logDir, task, stream, 1);
      const inoOf = (f: string) => (existsSync(f) ? statSync(f).ino : 0);
      let newestIno = inoOf(newest);
      while (open()) {
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
        const replaced = existsSync(current) && statSync(current).ino !== fstatSync(fd).ino;
        const copied = inoOf(newest) !== newestIno || fstatSync(fd).size < pos;
        if (replaced) {
          pos = drain(fd, pos, emit);
          closeSync(fd);
          fd = openSync(current, "r");
          pos = drain(fd, 0, emit);
        } else if (copied) {
          // Copy and truncate: what followed pos before the rotation is now at the end of .log.1.
          if (existsSync(newest)) {
            const old = openSync(newest, "r");
            drain(old, pos, emit);
            closeSync(old);
          }
          pos = drain(fd, 0, emit);
        } else pos = drain(fd, pos, emit);
        newestIno = inoOf(newest);
      }
      closeSync(fd);
      if (!cancelled) ctl.close();
    },
  });
}
