// The syntax of Consul's `?filter=` expressions (HashiCorp go-bexpr): a
// recursive-descent parser with positions, and the errors it raises. What
// the expressions mean is filter.ts. Pure.
//
//   expr     := or
//   or       := and ("or" and)*
//   and      := not ("and" not)*
//   not      := "not" not | "(" or ")" | match
//   match    := selector ("==" | "!=") value
//             | selector "is" ["not"] "empty"
//             | selector ["not"] ("contains" | "matches") value
//             | value ["not"] "in" selector
//   selector := ident ("." ident | "." digits | "[" string "]")*      ident = [a-zA-Z][a-zA-Z0-9_/]*
//   value    := "double-quoted" (Go escapes) | `raw` | number | bare word (a selector's text)
//
// As in go-bexpr, `and`/`or`/`not`/`in`/... are whole words, values may be
// bare words (`Checks.Status == passing`), and a number must end at a space,
// `)` or the end. Unlike it, `\"` is accepted inside double quotes.

/** Longest expression accepted (characters). */
export const MAX_FILTER_LENGTH = 4096;
/** Deepest nesting of parentheses and `not` (the parser recurses). */
export const MAX_FILTER_DEPTH = 64;

// ---- errors ---------------------------------------------------------------------------

/** A bad expression: what is wrong and where (0-based offset, 1-based line and column). */
/** Go's one-character string escapes. */
const SIMPLE_ESCAPES: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"' };

export class FilterError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(
    readonly problem: string,
    readonly offset: number,
    source: string,
    /** The filter ran out of its time budget on the data (not a fault in the expression: no position to show). */
    readonly overBudget = false,
  ) {
    const before = source.slice(0, Math.max(0, offset));
    const line = before.split("\n").length;
    const column = offset - (before.lastIndexOf("\n") + 1) + 1;
    super(`${line}:${column} (${offset}): ${problem}`);
    this.line = line;
    this.column = column;
  }
}

// ---- syntax tree ----------------------------------------------------------------------

export type MatchOp = "==" | "!=" | "is empty" | "is not empty" | "in" | "not in" | "contains" | "not contains" | "matches" | "not matches";

export interface SelectorPart {
  name: string;
  /** Offset of this part in the expression. */
  pos: number;
}

export interface ValueNode {
  raw: string;
  pos: number;
}

export type FilterAst =
  | { type: "or"; left: FilterAst; right: FilterAst }
  | { type: "and"; left: FilterAst; right: FilterAst }
  | { type: "not"; operand: FilterAst }
  | { type: "match"; op: MatchOp; selector: SelectorPart[]; value?: ValueNode; pos: number };

const IDENT_START = /[A-Za-z]/;
const IDENT_CHAR = /[A-Za-z0-9_/]/;
const WS = /[ \t\r\n]/;

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly src: string) {}

  fail(problem: string, at = this.i): never {
    throw new FilterError(problem, at, this.src);
  }

  parse(): FilterAst {
    const e = this.or();
    this.ws();
    if (this.i < this.src.length) {
      const c = this.src[this.i];
      this.fail(c === ")" ? `unmatched ")"` : `unexpected ${this.describeHere()}: expected "and", "or" or the end of the expression`);
    }
    return e;
  }

  private ws() {
    while (this.i < this.src.length && WS.test(this.src[this.i]!)) this.i++;
  }

  /** The word (identifier characters) at the cursor, without moving. */
  private word(at = this.i): string {
    if (at >= this.src.length || !IDENT_START.test(this.src[at]!)) return "";
    let j = at + 1;
    while (j < this.src.length && IDENT_CHAR.test(this.src[j]!)) j++;
    return this.src.slice(at, j);
  }

  /** Consumes keyword `kw` (a whole word) after optional whitespace; false (cursor kept) if it is not there. */
  private keyword(kw: string): boolean {
    const save = this.i;
    this.ws();
    if (this.word() === kw) {
      this.i += kw.length;
      return true;
    }
    this.i = save;
    return false;
  }

  private describeHere(): string {
    if (this.i >= this.src.length) return "end of expression";
    const w = this.word();
    const s = w || this.src.slice(this.i, this.i + 12);
    return JSON.stringify(s);
  }

  private enter() {
    if (++this.depth > MAX_FILTER_DEPTH) this.fail(`expression nested more than ${MAX_FILTER_DEPTH} levels deep`);
  }

  private or(): FilterAst {
    let left = this.and();
    while (this.keyword("or")) left = { type: "or", left, right: this.and() };
    return left;
  }

  private and(): FilterAst {
    let left = this.not();
    while (this.keyword("and")) left = { type: "and", left, right: this.not() };
    return left;
  }

  private not(): FilterAst {
    this.ws();
    const save = this.i;
    if (this.word() === "not") {
      this.i += 3;
      this.ws();
      // `not in` / `not contains` / … cannot start an expression: "not" is then a bare-word value.
      if (!["in", "contains", "matches", "empty"].includes(this.word())) {
        this.enter();
        const operand = this.not();
        this.depth--;
        return { type: "not", operand };
      }
      this.i = save;
    }
    if (this.src[this.i] === "(") {
      const open = this.i++;
      this.enter();
      const e = this.or();
      this.depth--;
      this.ws();
      if (this.src[this.i] !== ")") {
        if (this.i >= this.src.length) this.fail(`unmatched "(" (expected ")" before the end of the expression)`, open);
        this.fail(`unexpected ${this.describeHere()}: expected ")", "and" or "or"`);
      }
      this.i++;
      return e;
    }
    return this.match();
  }

  private match(): FilterAst {
    this.ws();
    const start = this.i;
    const c = this.src[this.i];
    if (c === undefined) this.fail("unexpected end of expression: expected a selector, a value, \"not\" or \"(\"");
    if (c === '"' || c === "`" || c === "-" || /[0-9]/.test(c)) {
      // A literal first: only `value in selector` / `value not in selector`.
      const value = this.value();
      const op = this.keyword("in") ? "in" : this.keyword("not") && this.keyword("in") ? "not in" : undefined;
      if (!op) {
        this.ws();
        this.fail(`expected "in" or "not in" after the value ${JSON.stringify(value.raw)}`);
      }
      this.ws();
      return { type: "match", op, value, selector: this.selector(), pos: start };
    }
    if (!IDENT_START.test(c)) this.fail(`unexpected ${this.describeHere()}: expected a selector, a value, "not" or "("`);
    const sel = this.selector();
    this.ws();
    const two = this.src.slice(this.i, this.i + 2);
    if (two === "==" || two === "!=") {
      this.i += 2;
      return { type: "match", op: two, selector: sel, value: this.value(), pos: start };
    }
    const w = this.word();
    if (w === "is") {
      this.i += 2;
      const negated = this.keyword("not");
      if (!this.keyword("empty")) {
        this.ws();
        this.fail(`expected "empty" or "not empty" after "is"`);
      }
      return { type: "match", op: negated ? "is not empty" : "is empty", selector: sel, pos: start };
    }
    if (w === "contains" || w === "matches") {
      this.i += w.length;
      return { type: "match", op: w, selector: sel, value: this.value(), pos: start };
    }
    if (w === "not") {
      this.i += 3;
      this.ws();
      const w2 = this.word();
      if (w2 === "contains" || w2 === "matches") {
        this.i += w2.length;
        return { type: "match", op: `not ${w2}`, selector: sel, value: this.value(), pos: start };
      }
      if (w2 === "in") {
        this.i += 2;
        this.ws();
        return { type: "match", op: "not in", value: bareValue(sel), selector: this.selector(), pos: start };
      }
      this.fail(`expected "contains", "matches" or "in" after "not"`);
    }
    if (w === "in") {
      this.i += 2;
      this.ws();
      return { type: "match", op: "in", value: bareValue(sel), selector: this.selector(), pos: start };
    }
    this.fail(`expected an operator after the selector ${JSON.stringify(sel.map((p) => p.name).join("."))} (==, !=, is empty, is not empty, contains, not contains, matches, not matches), found ${this.describeHere()}`);
  }

  private selector(): SelectorPart[] {
    const first = this.word();
    if (!first) this.fail(`expected a selector, found ${this.describeHere()}`);
    const parts: SelectorPart[] = [{ name: first, pos: this.i }];
    this.i += first.length;
    for (;;) {
      const c = this.src[this.i];
      if (c === ".") {
        const at = ++this.i;
        const w = this.word();
        if (w) {
          parts.push({ name: w, pos: at });
          this.i += w.length;
          continue;
        }
        const digits = /^[0-9]+/.exec(this.src.slice(at))?.[0];
        if (digits) {
          parts.push({ name: digits, pos: at });
          this.i += digits.length;
          continue;
        }
        this.fail(`expected a field name after "."`);
      }
      if (c === "[") {
        const open = this.i++;
        this.ws();
        const q = this.src[this.i];
        if (q !== '"' && q !== "`") this.fail(`invalid index: expected a quoted map key after "["`);
        const key = this.string();
        this.ws();
        if (this.src[this.i] !== "]") this.fail(`unclosed index expression (opened at ${open})`);
        this.i++;
        parts.push({ name: key.raw, pos: key.pos });
        continue;
      }
      return parts;
    }
  }

  private value(): ValueNode {
    this.ws();
    const c = this.src[this.i];
    if (c === '"' || c === "`") return this.string();
    if (c === "-" || (c !== undefined && /[0-9]/.test(c))) {
      const pos = this.i;
      const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?/.exec(this.src.slice(this.i));
      if (!m) this.fail(`invalid number literal`);
      this.i += m[0].length;
      const next = this.src[this.i];
      if (next !== undefined && next !== ")" && !WS.test(next)) this.fail(`invalid number literal`, pos);
      return { raw: m[0], pos };
    }
    if (c !== undefined && IDENT_START.test(c)) return bareValue(this.selector());
    this.fail(`expected a value (a "string", a \`raw string\`, a number or a bare word), found ${this.describeHere()}`);
  }

  /** A double-quoted string with Go's escapes, or a backtick raw string. */
  private string(): ValueNode {
    const pos = this.i;
    const quote = this.src[this.i++];
    if (quote === "`") {
      const end = this.src.indexOf("`", this.i);
      if (end === -1) this.fail("unterminated string literal", pos);
      const raw = this.src.slice(this.i, end).replaceAll("\r", "");
      this.i = end + 1;
      return { raw, pos };
    }
    let out = "";
    for (;;) {
      const ch = this.src[this.i];
      if (ch === undefined) this.fail("unterminated string literal", pos);
      if (ch === '"') {
        this.i++;
        return { raw: out, pos };
      }
      if (ch !== "\\") {
        out += ch;
        this.i++;
        continue;
      }
      const escPos = this.i;
      const e = this.src[this.i + 1];
      this.i += 2;
      if (e !== undefined && e in SIMPLE_ESCAPES) {
        out += SIMPLE_ESCAPES[e];
        continue;
      }
      const hex = (n: number) => {
        const h = this.src.slice(this.i, this.i + n);
        if (h.length < n || !/^[0-9a-fA-F]+$/.test(h)) this.fail(`invalid escape sequence in string`, escPos);
        this.i += n;
        return parseInt(h, 16);
      };
      if (e === "x") out += String.fromCharCode(hex(2));
      else if (e === "u" || e === "U") {
        const cp = hex(e === "u" ? 4 : 8);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail(`invalid Unicode code point in string`, escPos);
        out += String.fromCodePoint(cp);
      } else if (e !== undefined && /[0-7]/.test(e)) {
        const o = this.src.slice(this.i - 1, this.i + 2);
        if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) this.fail(`invalid octal escape in string`, escPos);
        this.i += 2;
        out += String.fromCharCode(parseInt(o, 8));
      } else this.fail(`invalid escape sequence ${JSON.stringify("\\" + (e ?? ""))} in string`, escPos);
    }
  }
}

/** A bare word used as a value: go-bexpr takes the selector's text. */
function bareValue(sel: SelectorPart[]): ValueNode {
  return { raw: sel.map((p) => p.name).join("."), pos: sel[0]!.pos };
}

/** Parses an expression (syntax only). */
export function parseFilter(expression: string): FilterAst {
  if (expression.length > MAX_FILTER_LENGTH) throw new FilterError(`filter expression longer than ${MAX_FILTER_LENGTH} characters`, MAX_FILTER_LENGTH, expression);
  if (expression.trim() === "") throw new FilterError("empty filter expression", 0, expression);
  return new Parser(expression).parse();
}
