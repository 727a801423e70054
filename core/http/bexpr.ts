// ?filter= expressions: a small subset of HashiCorp's go-bexpr, the language
// Nomad's and Consul's list APIs accept. Pure: parse once (errors name the
// 1-based character position, so a 400 can point at the mistake), then
// evaluate against each item's JSON view (what the list answers).
//
//   Status == "running"            Status != "dead"
//   Meta.team == "web"             Name contains "api"     Tags contains "x"
//   "x" in Tags   "x" not in Tags  Name matches "^web-[0-9]+$"
//   Meta is empty                  Meta is not empty
//   (A == "1" or B == "2") and not C == "3"
//
// Selectors are dotted paths; each part matches a key exactly, else
// case-insensitively (Nomad spells fields `Status`, corral's views `status`).
// Values are quoted ("..." or `...`) or bare numbers and true/false.

export class FilterError extends Error {
  constructor(readonly position: number, message: string) {
    super(`filter: ${message} at position ${position}`);
  }
}

export type Expr =
  | { op: "and" | "or"; left: Expr; right: Expr }
  | { op: "not"; expr: Expr }
  | { op: "==" | "!=" | "contains" | "not contains" | "matches" | "not matches"; selector: string[]; value: string; re?: RegExp }
  | { op: "is empty" | "is not empty"; selector: string[] };

/** Longest expression accepted, and deepest nesting (a bound on parse and evaluation work). */
export const MAX_FILTER_LENGTH = 4096;
const MAX_DEPTH = 64;
/** A `matches` pattern longer than this is refused (regular expressions are the costly part). */
const MAX_PATTERN = 512;

type Tok =
  | { kind: "word"; text: string; pos: number }
  | { kind: "string"; text: string; pos: number }
  | { kind: "op"; text: "==" | "!=" | "(" | ")"; pos: number }
  | { kind: "end"; pos: number };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (/\s/.test(ch)) { i++; continue; }
    const pos = i + 1;
    if (ch === "(" || ch === ")") { out.push({ kind: "op", text: ch, pos }); i++; continue; }
    if (ch === "=" || ch === "!") {
      if (src[i + 1] !== "=") throw new FilterError(pos, `unexpected "${ch}" (did you mean "${ch}="?)`);
      out.push({ kind: "op", text: ch === "=" ? "==" : "!=", pos });
      i += 2;
      continue;
    }
    if (ch === '"' || ch === "`") {
      let j = i + 1;
      let text = "";
      while (j < src.length && src[j] !== ch) {
        if (ch === '"' && src[j] === "\\" && j + 1 < src.length) {
          const e = src[j + 1]!;
          text += e === "n" ? "\n" : e === "t" ? "\t" : e;
          j += 2;
          continue;
        }
        text += src[j];
        j++;
      }
      if (j >= src.length) throw new FilterError(pos, "unterminated string");
      out.push({ kind: "string", text, pos });
      i = j + 1;
      continue;
    }
    const m = /^[A-Za-z0-9_.\-\/:]+/.exec(src.slice(i));
    if (!m) throw new FilterError(pos, `unexpected character ${JSON.stringify(ch)}`);
    out.push({ kind: "word", text: m[0], pos });
    i += m[0].length;
  }
  out.push({ kind: "end", pos: src.length + 1 });
  return out;
}

const KEYWORDS = new Set(["and", "or", "not", "in", "contains", "matches", "is", "empty"]);
const SELECTOR = /^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$/;

/** Parses a filter expression; throws FilterError naming the position of the first problem. */
export function parseFilter(src: string): Expr {
  if (src.length > MAX_FILTER_LENGTH) throw new FilterError(MAX_FILTER_LENGTH + 1, `expression longer than ${MAX_FILTER_LENGTH} characters`);
  const toks = tokenize(src);
  let k = 0;
  const peek = () => toks[k]!;
  const isWord = (t: Tok, w: string) => t.kind === "word" && t.text === w;
  const describe = (t: Tok) => (t.kind === "end" ? "end of expression" : t.kind === "string" ? `string "${t.text}"` : `"${t.text}"`);
  const fail = (t: Tok, want: string): never => { throw new FilterError(t.pos, `expected ${want}, found ${describe(t)}`); };

  const selector = (): string[] => {
    const t = peek();
    if (t.kind !== "word" || KEYWORDS.has(t.text) || !SELECTOR.test(t.text)) return fail(t, "a selector such as Status or Meta.key");
    k++;
    return t.text.split(".");
  };
  const value = (): { text: string; pos: number } => {
    const t = peek();
    if (t.kind === "string") { k++; return t; }
    if (t.kind === "word" && /^(-?\d+(\.\d+)?|true|false)$/.test(t.text)) { k++; return t; }
    return fail(t, 'a value (a quoted string, a number, true or false)');
  };
  const regex = (v: { text: string; pos: number }): RegExp => {
    if (v.text.length > MAX_PATTERN) throw new FilterError(v.pos, `pattern longer than ${MAX_PATTERN} characters`);
    try {
      return new RegExp(v.text);
    } catch (err) {
      throw new FilterError(v.pos, `invalid regular expression: ${(err as Error).message}`);
    }
  };

  const match = (): Expr => {
    // "value" [not] in Selector
    const first = peek();
    if (first.kind === "string" || (first.kind === "word" && /^(-?\d+(\.\d+)?|true|false)$/.test(first.text) && (isWord(toks[k + 1]!, "in") || isWord(toks[k + 1]!, "not")))) {
      const v = value();
      let negate = false;
      if (isWord(peek(), "not")) { k++; negate = true; }
      if (!isWord(peek(), "in")) fail(peek(), negate ? '"in"' : '"in" or "not in"');
      k++;
      return { op: negate ? "not contains" : "contains", selector: selector(), value: v.text };
    }
    const sel = selector();
    const t = peek();
    if (t.kind === "op" && (t.text === "==" || t.text === "!=")) { k++; return { op: t.text, selector: sel, value: value().text }; }
    if (isWord(t, "contains")) { k++; return { op: "contains", selector: sel, value: value().text }; }
    if (isWord(t, "matches")) { k++; const v = value(); return { op: "matches", selector: sel, value: v.text, re: regex(v) }; }
    if (isWord(t, "is")) {
      k++;
      let negate = false;
      if (isWord(peek(), "not")) { k++; negate = true; }
      if (!isWord(peek(), "empty")) fail(peek(), '"empty"');
      k++;
      return { op: negate ? "is not empty" : "is empty", selector: sel };
    }
    if (isWord(t, "not")) {
      k++;
      const n = peek();
      if (isWord(n, "contains")) { k++; return { op: "not contains", selector: sel, value: value().text }; }
      if (isWord(n, "matches")) { k++; const v = value(); return { op: "not matches", selector: sel, value: v.text, re: regex(v) }; }
      return fail(n, '"contains" or "matches" after "not"');
    }
    return fail(t, 'an operator (==, !=, contains, matches, is empty, not contains, not matches)');
  };

  const unary = (depth: number): Expr => {
    const t = peek();
    if (depth > MAX_DEPTH) throw new FilterError(t.pos, `nested deeper than ${MAX_DEPTH}`);
    if (isWord(t, "not")) { k++; return { op: "not", expr: unary(depth + 1) }; }
    if (t.kind === "op" && t.text === "(") {
      k++;
      const inner = or(depth + 1);
      const close = peek();
      if (!(close.kind === "op" && close.text === ")")) fail(close, '")"');
      k++;
      return inner;
    }
    return match();
  };
  const and = (depth: number): Expr => {
    let left = unary(depth);
    while (isWord(peek(), "and")) { k++; left = { op: "and", left, right: unary(depth) }; }
    return left;
  };
  const or = (depth: number): Expr => {
    let left = and(depth);
    while (isWord(peek(), "or")) { k++; left = { op: "or", left, right: and(depth) }; }
    return left;
  };

  if (peek().kind === "end") throw new FilterError(1, "empty expression");
  const expr = or(0);
  if (peek().kind !== "end") fail(peek(), '"and", "or" or the end of the expression');
  return expr;
}

/** The value at a dotted path: each part a key as written, else the one key equal to it ignoring case. */
function resolve(item: unknown, path: readonly string[]): unknown {
  let cur = item;
  for (const part of path) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    const obj = cur as Record<string, unknown>;
    if (Object.hasOwn(obj, part)) { cur = obj[part]; continue; }
    const lower = part.toLowerCase();
    const key = Object.keys(obj).find((x) => x.toLowerCase() === lower);
    if (key === undefined) return undefined;
    cur = obj[key];
  }
  return cur;
}

const scalar = (v: unknown): string | undefined =>
  typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;

function contains(v: unknown, want: string): boolean {
  if (typeof v === "string") return v.includes(want);
  if (Array.isArray(v)) return v.some((x) => scalar(x) === want);
  if (v !== null && typeof v === "object") return Object.hasOwn(v, want);
  return false;
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.keys(v).length === 0;
  return false;
}

/** Whether `item` (a JSON view) satisfies `expr`. */
export function matchesFilter(expr: Expr, item: unknown): boolean {
  switch (expr.op) {
    case "and": return matchesFilter(expr.left, item) && matchesFilter(expr.right, item);
    case "or": return matchesFilter(expr.left, item) || matchesFilter(expr.right, item);
    case "not": return !matchesFilter(expr.expr, item);
    case "==": return scalar(resolve(item, expr.selector)) === expr.value;
    case "!=": return scalar(resolve(item, expr.selector)) !== expr.value;
    case "contains": return contains(resolve(item, expr.selector), expr.value);
    case "not contains": return !contains(resolve(item, expr.selector), expr.value);
    case "matches": { const s = scalar(resolve(item, expr.selector)); return s !== undefined && expr.re!.test(s); }
    case "not matches": { const s = scalar(resolve(item, expr.selector)); return s === undefined || !expr.re!.test(s); }
    case "is empty": return isEmpty(resolve(item, expr.selector));
    case "is not empty": return !isEmpty(resolve(item, expr.selector));
  }
}
