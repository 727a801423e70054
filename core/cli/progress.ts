// Progress output for long CLI waits: a redrawn bar on a terminal, plain
// lines (only when something changed) when the output is a pipe or a file,
// so logs of scripted runs stay readable.
export interface ProgressOut {
  isTTY?: boolean;
  write(s: string): unknown;
}

/** "[########------------] 2/5", pure. */
export function progressBar(done: number, total: number, width = 24): string {
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const full = Math.round(ratio * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}] ${done}/${total}`;
}

export class Progress {
  private last = "";
  private drawn = false;

  constructor(private out: ProgressOut = process.stdout) {}

  /** Shows the current state; on a pipe, only when it differs from the last one shown. */
  update(line: string): void {
    if (line === this.last) return;
    this.last = line;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[K${line}`);
      this.drawn = true;
    } else this.out.write(line + "\n");
  }

  /** A message that stays (the bar, if any, is redrawn under it). */
  note(line: string): void {
    if (this.drawn) this.out.write("\r\x1b[K");
    this.out.write(line + "\n");
    if (this.drawn && this.last) this.out.write(this.last);
  }

  done(line?: string): void {
    if (this.drawn) this.out.write("\r\x1b[K");
    if (line) this.out.write(line + "\n");
    else if (this.drawn && this.last) this.out.write(this.last + "\n");
    this.drawn = false;
  }
}
