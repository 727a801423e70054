// Task output: each stream (stdout, stderr) of each task goes to
// <allocDir>/logs/<task>.<stream>.log, rotated past max_log_file_bytes into
// .log.1 (newest) … .log.<max_log_files-1> (oldest, then deleted). Reading
// returns the files oldest first; following keeps the current file open and
// notices a rotation by the inode behind the name changing, so no byte is
// lost or repeated across it.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
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

  private path(gen: number): string {
    return logPath(this.dir, this.task, this.stream, gen);
  }

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

  private rotate(): void {
    closeSync(this.fd);
    const last = this.maxFiles - 1;
    if (last < 1) rmSync(this.path(0), { force: true });
    else {
      rmSync(this.path(last), { force: true });
      for (let g = last - 1; g >= 0; g--) if (existsSync(this.path(g))) renameSync(this.path(g), this.path(g + 1));
    }
    this.fd = openSync(this.path(0), "a");
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
      while (open()) {
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
        pos = drain(fd, pos, emit);
        const rotated = existsSync(current) && statSync(current).ino !== fstatSync(fd).ino;
        if (rotated) {
          closeSync(fd);
          fd = openSync(current, "r");
          pos = drain(fd, 0, emit);
        }
      }
      closeSync(fd);
      if (!cancelled) ctl.close();
    },
  });
}
