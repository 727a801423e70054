// Maps key paths back to line numbers in TOML source text.
//
// smol-toml gives us values but no positions, so when zod rejects
// `leader.peers.1` we scan the text ourselves to say *where* that is. The
// scanner understands what matters for positions:
//   - table headers `[a.b]` and arrays of tables `[[a]]` (indexed 0, 1, ...;
//     `[a.b]` after `[[a]]` belongs to the last `a` element),
//   - `key = value` lines with dotted and quoted keys,
//   - multi-line arrays (each element gets its own line), inline tables,
//     basic/literal/multi-line strings (so `#`, `[` or newlines inside strings
//     do not confuse it) and comments.
// It is forgiving: anything it does not understand is skipped to the end of
// the line. Syntax errors are smol-toml's job; this only runs on text that
// parsed (or to give a best-effort line).

export type KeyPath = readonly PropertyKey[];

function pathKey(path: KeyPath): string {
  return JSON.stringify(path.map((p) => String(p)));
}

export class KeyLocator {
  private readonly lines = new Map<string, number>();
  private readonly aot = new Map<string, number>(); // array-of-tables path -> element count
  private s = "";
  private i = 0;
  private line = 1;

  constructor(text: string) {
    this.s = text;
    this.scan();
  }

  /** Line where exactly this path is defined (key, table header, or array element). */
  exactLine(path: KeyPath): number | undefined {
    return this.lines.get(pathKey(path));
  }

  /**
   * Line of the path, or of its closest defined ancestor (e.g. the `[cluster]`
   * header when `cluster.secret` is missing). Undefined when nothing on the
   * path appears in the text.
   */
  lineOf(path: KeyPath): number | undefined {
    for (let n = path.length; n > 0; n--) {
      const l = this.lines.get(pathKey(path.slice(0, n)));
      if (l !== undefined) return l;
    }
    return undefined;
  }

  /** Every located path with its line (for debugging and tests). */
  entries(): Array<[string[], number]> {
    return [...this.lines].map(([k, l]) => [JSON.parse(k) as string[], l]);
  }

  // ---- scanner -------------------------------------------------------------

  private record(path: KeyPath, line: number): void {
    const k = pathKey(path);
    if (!this.lines.has(k)) this.lines.set(k, line);
  }

  private peek(off = 0): string {
    return this.s[this.i + off] ?? "";
  }

  private startsWith(t: string): boolean {
    return this.s.startsWith(t, this.i);
  }

  private skipSpaces(): void {
    while (this.peek() === " " || this.peek() === "\t") this.i++;
  }

  private skipComment(): void {
    if (this.peek() !== "#") return;
    while (this.i < this.s.length && this.peek() !== "\n") this.i++;
  }

  /** Skip spaces, comments and newlines (inside arrays). */
  private skipBlank(): void {
    for (;;) {
      const c = this.peek();
      if (c === " " || c === "\t" || c === "\r") this.i++;
      else if (c === "\n") {
        this.i++;
        this.line++;
      } else if (c === "#") this.skipComment();
      else return;
    }
  }

  private skipRestOfLine(): void {
    while (this.i < this.s.length && this.peek() !== "\n") this.i++;
  }

  private scan(): void {
    let table: PropertyKey[] = [];
    while (this.i < this.s.length) {
      this.skipBlank();
      if (this.i >= this.s.length) break;
      const start = this.i;
      const line = this.line;
      if (this.peek() === "[") {
        const isArray = this.peek(1) === "[";
        this.i += isArray ? 2 : 1;
        const key = this.parseKey();
        this.skipSpaces();
        const close = isArray ? "]]" : "]";
        if (key && this.startsWith(close)) {
          this.i += close.length;
          const resolved = this.resolveArrays(key);
          if (isArray) {
            const k = pathKey(resolved);
            const n = this.aot.get(k) ?? 0;
            this.aot.set(k, n + 1);
            this.record(resolved, line);
            table = [...resolved, n];
          } else {
            table = resolved;
          }
          this.recordPrefixes(table, 1, line);
        }
        this.skipRestOfLine();
      } else {
        const key = this.parseKey();
        this.skipSpaces();
        if (key && this.peek() === "=") {
          this.i++;
          this.skipSpaces();
          const full = [...table, ...key];
          this.recordPrefixes(full, table.length + 1, line);
          this.parseValue(full);
        }
        this.skipSpaces();
        this.skipComment();
        if (this.peek() !== "\n") this.skipRestOfLine();
      }
      if (this.i === start) this.i++; // never stall
    }
  }

  /** Record every prefix of `path` of length >= from. */
  private recordPrefixes(path: KeyPath, from: number, line: number): void {
    for (let n = Math.max(1, from); n <= path.length; n++) this.record(path.slice(0, n), line);
  }

  /** Insert array-of-tables indexes: `[a.b]` after `[[a]]` means a.<last>.b. */
  private resolveArrays(key: string[]): PropertyKey[] {
    const out: PropertyKey[] = [];
    for (let j = 0; j < key.length; j++) {
      out.push(key[j]!);
      if (j < key.length - 1) {
        const n = this.aot.get(pathKey(out));
        if (n !== undefined) out.push(n - 1);
      }
    }
    return out;
  }

  /** Parse a possibly dotted, possibly quoted key. Undefined when there is none. */
  private parseKey(): string[] | undefined {
    const parts: string[] = [];
    for (;;) {
      this.skipSpaces();
      const c = this.peek();
      let part: string | undefined;
      if (c === '"') part = this.parseBasicString();
      else if (c === "'") part = this.parseLiteralString();
      else {
        const m = /^[A-Za-z0-9_-]+/.exec(this.s.slice(this.i, this.i + 256));
        if (m) {
          part = m[0];
          this.i += part.length;
        }
      }
      if (part === undefined) return undefined;
      parts.push(part);
      this.skipSpaces();
      if (this.peek() === ".") {
        this.i++;
        continue;
      }
      return parts;
    }
  }

  private parseBasicString(): string | undefined {
    const start = this.i;
    this.i++; // opening quote
    while (this.i < this.s.length) {
      const c = this.peek();
      if (c === "\\") this.i += 2;
      else if (c === "\n") return undefined;
      else if (c === '"') {
        this.i++;
        const raw = this.s.slice(start, this.i);
        try {
          return JSON.parse(raw.replace(/\\U([0-9A-Fa-f]{8})/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)).replace(/"/g, '\\"'))) as string;
        } catch {
          return raw.slice(1, -1);
        }
      } else this.i++;
    }
    return undefined;
  }

  private parseLiteralString(): string | undefined {
    const end = this.s.indexOf("'", this.i + 1);
    const nl = this.s.indexOf("\n", this.i + 1);
    if (end < 0 || (nl >= 0 && nl < end)) return undefined;
    const v = this.s.slice(this.i + 1, end);
    this.i = end + 1;
    return v;
  }

  private skipMultiline(delim: string, escapes: boolean): void {
    this.i += 3;
    while (this.i < this.s.length) {
      const c = this.peek();
      if (escapes && c === "\\") {
        if (this.peek(1) === "\n") this.line++;
        this.i += 2;
      } else if (c === "\n") {
        this.line++;
        this.i++;
      } else if (this.startsWith(delim)) {
        this.i += 3;
        // up to two quotes may sit right before the closing delimiter
        let extra = 0;
        while (extra < 2 && this.peek() === delim[0]) {
          this.i++;
          extra++;
        }
        return;
      } else this.i++;
    }
  }

  private parseValue(path: PropertyKey[]): void {
    const c = this.peek();
    if (this.startsWith('"""')) return this.skipMultiline('"""', true);
    if (this.startsWith("'''")) return this.skipMultiline("'''", false);
    if (c === '"') {
      this.parseBasicString();
      return;
    }
    if (c === "'") {
      this.parseLiteralString();
      return;
    }
    if (c === "[") {
      this.i++;
      let idx = 0;
      for (;;) {
        this.skipBlank();
        if (this.i >= this.s.length) return;
        if (this.peek() === "]") {
          this.i++;
          return;
        }
        const before = this.i;
        this.record([...path, idx], this.line);
        this.parseValue([...path, idx]);
        this.skipBlank();
        if (this.peek() === ",") {
          this.i++;
          idx++;
        } else if (this.peek() === "]") {
          this.i++;
          return;
        } else if (this.i === before) {
          return; // not understood; give up on this value
        }
      }
    }
    if (c === "{") {
      this.i++;
      for (;;) {
        this.skipSpaces();
        if (this.peek() === "}") {
          this.i++;
          return;
        }
        const line = this.line;
        const key = this.parseKey();
        this.skipSpaces();
        if (!key || this.peek() !== "=") return;
        this.i++;
        this.skipSpaces();
        const full = [...path, ...key];
        this.recordPrefixes(full, path.length + 1, line);
        this.parseValue(full);
        this.skipSpaces();
        if (this.peek() === ",") this.i++;
        else if (this.peek() === "}") {
          this.i++;
          return;
        } else return;
      }
    }
    // scalar: number, boolean, date-time
    while (this.i < this.s.length && !",]}#\n\r".includes(this.peek())) this.i++;
  }
}

/** One-shot helper: the line of `path` (or of its nearest defined ancestor) in `text`. */
export function locate(text: string, path: KeyPath): number | undefined {
  return new KeyLocator(text).lineOf(path);
}
