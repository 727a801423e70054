// Where a key path sits in JSON text: line and column of each key (and of
// each array element), for error messages that point into a job file. The
// TOML counterpart is core/config/locate.ts; JSON.parse gives no positions.
// Forgiving like it: on text it does not understand it stops, and paths it
// did not reach fall back to their nearest located ancestor. Pure.

export interface Position {
  line: number;
  column: number;
}

type Path = readonly (string | number)[];

export class JsonLocator {
  private readonly at = new Map<string, Position>();
  private i = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly s: string) {
    try {
      this.value([]);
    } catch {
      // malformed text: keep what was located so far
    }
  }

  /** Position of `path`, or of its nearest located ancestor. */
  positionOf(path: Path): Position | undefined {
    for (let n = path.length; n > 0; n--) {
      const p = this.at.get(JSON.stringify(path.slice(0, n).map(String)));
      if (p) return p;
    }
    return undefined;
  }

  private here(): Position {
    return { line: this.line, column: this.i - this.lineStart + 1 };
  }

  private record(path: Path, pos: Position): void {
    const k = JSON.stringify(path.map(String));
    if (!this.at.has(k)) this.at.set(k, pos);
  }

  private blank(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === "\n") {
        this.i++;
        this.line++;
        this.lineStart = this.i;
      } else if (c === " " || c === "\t" || c === "\r") this.i++;
      else return;
    }
  }

  private string(): string {
    const start = this.i;
    this.i++;
    while (this.i < this.s.length && this.s[this.i] !== '"') this.i += this.s[this.i] === "\\" ? 2 : 1;
    this.i++;
    return JSON.parse(this.s.slice(start, this.i)) as string;
  }

  private value(path: Path): void {
    this.blank();
    const c = this.s[this.i];
    if (c === "{") {
      this.i++;
      for (;;) {
        this.blank();
        if (this.s[this.i] === "}") return void this.i++;
        if (this.s[this.i] !== '"') throw new Error("key expected");
        const pos = this.here();
        const key = this.string();
        this.record([...path, key], pos);
        this.blank();
        if (this.s[this.i] !== ":") throw new Error("colon expected");
        this.i++;
        this.value([...path, key]);
        this.blank();
        if (this.s[this.i] === ",") this.i++;
      }
    }
    if (c === "[") {
      this.i++;
      for (let n = 0; ; n++) {
        this.blank();
        if (this.s[this.i] === "]") return void this.i++;
        this.record([...path, n], this.here());
        this.value([...path, n]);
        this.blank();
        if (this.s[this.i] === ",") this.i++;
      }
    }
    if (c === '"') return void this.string();
    const start = this.i;
    while (this.i < this.s.length && !",]}\n\r\t ".includes(this.s[this.i]!)) this.i++;
    if (this.i === start) throw new Error("value expected");
  }
}
