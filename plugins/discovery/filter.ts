// Consul's `?filter=` expressions (HashiCorp go-bexpr): check a parsed
// expression (filter-syntax.ts) against the endpoint's element type, then
// evaluate it on each element of the JSON answer. Pure: no I/O, no state
// (the regex engine is loaded on first use). See docs/discovery.md "Filtering".
//
// Semantics follow go-bexpr's evaluator as Consul uses it: every selector is
// checked against the element's type before anything runs (an unknown field,
// an operator the field's type has no meaning for, a value that does not
// coerce to the field's type, or a bad regex is an error with its position);
// a selector that crosses a list of objects (`Checks.Status`) matches when
// the operator holds for any element; a map key that is absent makes `==`,
// `is not empty`, `in`/`contains` and `matches` false and their negations
// true. Regexes are Go's (RE2) syntax, run by re2js in linear time.
import type { RE2JS } from "re2js";
import { FilterError, parseFilter, type FilterAst, type ValueNode } from "./filter-syntax.ts";

export { FilterError, MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, parseFilter, type FilterAst } from "./filter-syntax.ts";

type Engine = typeof import("re2js").RE2JS;
let engine: Engine | undefined;

/**
 * Loads the regex engine (re2js, ~40 ms of module loading, so not at every
 * start of the binary or the CLI): prepareFilter does it when an expression
 * has `matches`; compileFilter needs it done.
 */
export async function loadRegexEngine(): Promise<void> {
  engine ??= (await import("re2js")).RE2JS;
}

/** Longest regex accepted in `matches` (characters). */
export const MAX_REGEX_LENGTH = 1024;
/** Most `matches`/`not matches` in one expression (each is linear in its input, but they add up). */
export const MAX_FILTER_REGEXES = 32;
/** Largest compiled regex (RE2 program instructions): bounds one match to a few ms on 4 KiB. */
export const MAX_REGEX_PROGRAM = 500;
/** Regex time one pass of `select` may spend before it gives up (ms). */
export const REGEX_BUDGET_MS = 1000;

// ---- types of the filtered elements -------------------------------------------------

export type FieldType =
  | { kind: "string" }
  | { kind: "int" }
  | { kind: "float" }
  | { kind: "bool" }
  /** A list: a selector may go through it when its elements are objects (any-element semantics). */
  | { kind: "slice"; elem: FieldType }
  /** A map with string keys: any key may be selected (`.key` or `["key"]`). */
  | { kind: "map"; value: FieldType }
  | { kind: "struct"; fields: Record<string, FieldType> }
  /** Free-form JSON (a check's Definition): checked when evaluated, not before. */
  | { kind: "any" };

export const T = {
  string: { kind: "string" } as FieldType,
  int: { kind: "int" } as FieldType,
  float: { kind: "float" } as FieldType,
  bool: { kind: "bool" } as FieldType,
  any: { kind: "any" } as FieldType,
  slice: (elem: FieldType): FieldType => ({ kind: "slice", elem }),
  map: (value: FieldType): FieldType => ({ kind: "map", value }),
  struct: (fields: Record<string, FieldType>): FieldType => ({ kind: "struct", fields }),
};

// ---- checking against a type, and evaluation ----------------------------------------

type Leaf =
  | { k: "eq"; coerce: (v: unknown) => boolean | undefined }
  | { k: "empty" }
  | { k: "in"; test: (v: unknown) => boolean | undefined }
  | { k: "matches"; re: RE2JS };

interface CompiledMatch {
  path: string[];
  /** Per step: the step looks a key up in a map (or free-form JSON), where an absent key is ordinary. */
  mapLookup: boolean[];
  negate: boolean;
  leaf: Leaf;
}

type Compiled =
  | { type: "or"; left: Compiled; right: Compiled }
  | { type: "and"; left: Compiled; right: Compiled }
  | { type: "not"; operand: Compiled }
  | { type: "match"; m: CompiledMatch };

export interface Filter {
  readonly expression: string;
  /** Whether one element passes (no time budget: for tests and single checks). */
  matches(element: unknown): boolean;
  /**
   * The elements that pass. Throws FilterError when the expression's regexes
   * spend more than REGEX_BUDGET_MS on this list, so no filter holds the
   * event loop for long whatever the data.
   */
  select<E>(elements: readonly E[]): E[];
}

const kindName = (t: FieldType): string =>
  t.kind === "slice" ? "a list" : t.kind === "map" ? "a map" : t.kind === "struct" ? "an object" : t.kind === "int" || t.kind === "float" ? "a number" : t.kind === "bool" ? "a boolean" : "a string";

type MatchNode = Extract<FilterAst, { type: "match" }>;

/** The `matches` operators of a parsed expression, left to right. */
function regexMatches(n: FilterAst, into: MatchNode[] = []): MatchNode[] {
  if (n.type === "or" || n.type === "and") regexMatches(n.right, regexMatches(n.left, into));
  else if (n.type === "not") regexMatches(n.operand, into);
  else if (n.op.endsWith("matches")) into.push(n);
  return into;
}

/** compileFilter, loading the regex engine first when the expression has a regex. Throws FilterError. */
export async function prepareFilter(expression: string, type: FieldType, opts: { regexBudgetMs?: number } = {}): Promise<Filter> {
  const ast = parseFilter(expression);
  if (!engine && regexMatches(ast).length > 0) await loadRegexEngine();
  return compiled(ast, expression, type, opts);
}

/**
 * Parses `expression` and checks it against `type` (the type of each
 * filtered element). Throws FilterError. Synchronous: an expression with
 * `matches` needs loadRegexEngine() done (prepareFilter does that).
 */
export function compileFilter(expression: string, type: FieldType, opts: { regexBudgetMs?: number } = {}): Filter {
  return compiled(parseFilter(expression), expression, type, opts);
}

function compiled(ast: FilterAst, expression: string, type: FieldType, opts: { regexBudgetMs?: number }): Filter {
  const budgetMs = opts.regexBudgetMs ?? REGEX_BUDGET_MS;
  const fail = (problem: string, at: number): never => {
    throw new FilterError(problem, at, expression);
  };
  const build = (n: FilterAst): Compiled => {
    switch (n.type) {
      case "or":
        return { type: "or", left: build(n.left), right: build(n.right) };
      case "and":
        return { type: "and", left: build(n.left), right: build(n.right) };
      case "not":
        return { type: "not", operand: build(n.operand) };
      case "match":
        return { type: "match", m: compileMatch(n, type, fail) };
    }
  };
  const tooMany = regexMatches(ast)[MAX_FILTER_REGEXES];
  if (tooMany) fail(`more than ${MAX_FILTER_REGEXES} regular expressions`, tooMany.pos);
  const root = build(ast);
  return {
    expression,
    matches: (el) => evaluate(root, el, undefined),
    select(elements) {
      const budget = { spentMs: 0, limitMs: budgetMs, expression };
      return elements.filter((el) => evaluate(root, el, budget));
    },
  };
}

function compileMatch(n: MatchNode, root: FieldType, fail: (p: string, at: number) => never): CompiledMatch {
  const mapLookup: boolean[] = [];
  let t = root;
  const names: string[] = [];
  for (const part of n.selector) {
    // Lists of objects are crossed: the rest of the selector applies to every element.
    while (t.kind === "slice" && (t.elem.kind === "struct" || t.elem.kind === "map" || t.elem.kind === "any" || t.elem.kind === "slice")) t = t.elem;
    const where = names.length ? JSON.stringify(names.join(".")) : "the element";
    const wasMap = t.kind === "map" || t.kind === "any";
    if (t.kind === "struct") {
      const next = t.fields[part.name];
      if (!next) {
        const hint = Object.keys(t.fields).find((f) => f.toLowerCase() === part.name.toLowerCase());
        const full = [...names, part.name].join(".");
        fail(hint ? `unknown selector ${JSON.stringify(full)} (did you mean ${JSON.stringify([...names, hint].join("."))}?)`
          : `unknown selector ${JSON.stringify(full)}: ${where} has ${Object.keys(t.fields).join(", ")}`, part.pos);
      }
      t = next!;
    } else if (t.kind === "map") {
      t = t.value;
    } else if (t.kind === "any") {
      // free-form: anything may follow
    } else {
      fail(`selector ${JSON.stringify([...names, part.name].join("."))} goes into ${where}, which is ${kindName(t)} and has no fields`, part.pos);
    }
    names.push(part.name);
    mapLookup.push(wasMap);
  }
  const sel = JSON.stringify(names.join("."));
  const op = n.op;
  const negate = op === "!=" || op === "is not empty" || op === "not in" || op === "not contains" || op === "not matches";
  const base = op === "==" || op === "!=" ? "eq" : op.endsWith("empty") ? "empty" : op.endsWith("matches") ? "matches" : "in";
  const value = n.value!;
  const hint = (): string => {
    if (t.kind === "slice" && t.elem.kind === "struct") return ` of objects (select a field of its elements: ${names.join(".")}.${Object.keys(t.elem.fields)[0]})`;
    if (t.kind === "slice" || t.kind === "map") return ` (use "contains", "in" or "is empty")`;
    return t.kind === "struct" ? " (select one of its fields)" : "";
  };
  const unsupported = (): never => fail(`operator ${JSON.stringify(op)} is not supported on ${sel}, which is ${kindName(t)}${hint()}`, n.pos);

  let leaf: Leaf;
  switch (base) {
    case "eq": {
      if (t.kind === "slice" || t.kind === "map" || t.kind === "struct") unsupported();
      leaf = { k: "eq", coerce: t.kind === "any" ? dynamicEquals(value.raw) : staticEquals(t, value, sel, fail) };
      break;
    }
    case "empty":
      if (t.kind === "struct" || t.kind === "int" || t.kind === "float" || t.kind === "bool") unsupported();
      leaf = { k: "empty" };
      break;
    case "in": {
      if (t.kind === "string") leaf = { k: "in", test: (v) => (typeof v === "string" ? v.includes(value.raw) : v == null ? "".includes(value.raw) : undefined) };
      else if (t.kind === "map") leaf = { k: "in", test: (v) => (isObject(v) ? Object.hasOwn(v, value.raw) : v == null ? false : undefined) };
      else if (t.kind === "slice") {
        if (t.elem.kind === "struct" || t.elem.kind === "map" || t.elem.kind === "slice") unsupported();
        const eq = t.elem.kind === "any" ? dynamicEquals(value.raw) : staticEquals(t.elem, value, sel, fail);
        leaf = { k: "in", test: (v) => (Array.isArray(v) ? v.some((e) => eq(e) === true) : v == null ? false : undefined) };
      } else if (t.kind === "any") leaf = { k: "in", test: dynamicIn(value.raw) };
      else unsupported();
      break;
    }
    case "matches": {
      if (t.kind !== "string" && t.kind !== "any") unsupported();
      if (value.raw.length > MAX_REGEX_LENGTH) fail(`regular expression longer than ${MAX_REGEX_LENGTH} characters`, value.pos);
      if (!engine) throw new Error("compileFilter: a `matches` expression needs loadRegexEngine() first (or use prepareFilter)");
      let re: RE2JS;
      try {
        re = engine.compile(value.raw);
      } catch (err) {
        fail(`invalid regular expression ${JSON.stringify(value.raw)}: ${String((err as Error)?.message ?? err).replace(/^error parsing regexp: /, "")}`, value.pos);
      }
      const size = (re!.re2() as unknown as { prog?: { numInst?: () => number } }).prog?.numInst?.() ?? 0;
      if (size > MAX_REGEX_PROGRAM) fail(`regular expression too complex (${size} instructions compiled, at most ${MAX_REGEX_PROGRAM})`, value.pos);
      leaf = { k: "matches", re: re! };
      break;
    }
  }
  return { path: names, mapLookup, negate, leaf: leaf! };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Go's strconv.ParseBool. */
function parseBool(raw: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(raw)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(raw)) return false;
  return undefined;
}

/** Go's strconv.ParseInt(raw, 0, 64) for the forms people write: decimal, 0x, 0o, 0b, leading-0 octal, sign, underscores. */
function parseInteger(raw: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(raw);
  if (!m || /__|_$/.test(m[2]!)) return undefined;
  const body = m[2]!.replaceAll("_", "");
  const n = /^0[0-7]+$/.test(body) ? parseInt(body.slice(1), 8) : Number(body);
  if (!Number.isSafeInteger(n)) return undefined;
  return m[1] === "-" ? -n : n;
}

function parseFloatGo(raw: string): number | undefined {
  if (!/^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|[iI]nf(?:inity)?|NaN)$/.test(raw)) return undefined;
  return Number(raw.replace(/^([+-]?)[iI]nf(?:inity)?$/, "$1Infinity"));
}

/** Equality with the value coerced to the field's (known) type once; a value that does not coerce is an error now. */
function staticEquals(t: FieldType, value: ValueNode, sel: string, fail: (p: string, at: number) => never): (v: unknown) => boolean | undefined {
  switch (t.kind) {
    case "int": {
      const n = parseInteger(value.raw);
      if (n === undefined) fail(`${sel} is a whole number; ${JSON.stringify(value.raw)} is not`, value.pos);
      return (v) => (v == null ? n === 0 : typeof v === "number" ? v === n : undefined);
    }
    case "float": {
      const n = parseFloatGo(value.raw);
      if (n === undefined) fail(`${sel} is a number; ${JSON.stringify(value.raw)} is not`, value.pos);
      return (v) => (v == null ? n === 0 : typeof v === "number" ? v === n : undefined);
    }
    case "bool": {
      const b = parseBool(value.raw);
      if (b === undefined) fail(`${sel} is a boolean; ${JSON.stringify(value.raw)} is not (true or false)`, value.pos);
      return (v) => (v == null ? b === false : typeof v === "boolean" ? v === b : undefined);
    }
    default:
      return (v) => (v == null ? value.raw === "" : typeof v === "string" ? v === value.raw : undefined);
  }
}

/** Equality on free-form JSON: the value is coerced to whatever type the element has; no type match, no result. */
function dynamicEquals(raw: string): (v: unknown) => boolean | undefined {
  const n = parseFloatGo(raw);
  const b = parseBool(raw);
  return (v) => {
    if (typeof v === "string") return v === raw;
    if (typeof v === "number") return n === undefined ? undefined : v === n;
    if (typeof v === "boolean") return b === undefined ? undefined : v === b;
    return undefined;
  };
}

function dynamicIn(raw: string): (v: unknown) => boolean | undefined {
  const eq = dynamicEquals(raw);
  return (v) => {
    if (typeof v === "string") return v.includes(raw);
    if (Array.isArray(v)) return v.some((e) => eq(e) === true);
    if (isObject(v)) return Object.hasOwn(v, raw);
    return undefined;
  };
}

interface Budget {
  spentMs: number;
  limitMs: number;
  expression: string;
}

function evaluate(n: Compiled, el: unknown, b: Budget | undefined): boolean {
  switch (n.type) {
    case "or":
      return evaluate(n.left, el, b) || evaluate(n.right, el, b);
    case "and":
      return evaluate(n.left, el, b) && evaluate(n.right, el, b);
    case "not":
      return !evaluate(n.operand, el, b);
    case "match":
      return walk(n.m, el, 0, b);
  }
}

/**
 * Follows the selector from `v`, the value at path[0..depth). Lists of
 * objects are crossed with any-element semantics: the operator (negated or
 * not) must hold for one element, and an empty list never matches.
 */
function walk(m: CompiledMatch, v: unknown, depth: number, b: Budget | undefined): boolean {
  if (depth === m.path.length) return leaf(m, v, b);
  if (Array.isArray(v)) {
    for (const e of v) if (walk(m, e, depth, b)) return true;
    return false;
  }
  const key = m.path[depth]!;
  if (isObject(v) && Object.hasOwn(v, key)) return walk(m, v[key], depth + 1, b);
  // An absent map key: it is empty, and nothing equals it, contains or matches anything.
  if (m.mapLookup[depth]) return m.leaf.k === "empty" ? !m.negate : m.negate;
  // An absent field: its zero value ("", 0, false, empty).
  return walk(m, undefined, depth + 1, b);
}

function leaf(m: CompiledMatch, v: unknown, b: Budget | undefined): boolean {
  let r: boolean | undefined;
  switch (m.leaf.k) {
    case "eq":
      r = m.leaf.coerce(v);
      break;
    case "empty":
      r = v == null ? true : typeof v === "string" || Array.isArray(v) ? v.length === 0 : isObject(v) ? Object.keys(v).length === 0 : undefined;
      break;
    case "in":
      r = m.leaf.test(v);
      break;
    case "matches": {
      const input = typeof v === "string" ? v : v == null ? "" : undefined;
      if (input === undefined) break;
      if (!b) {
        r = m.leaf.re.test(input);
        break;
      }
      const t0 = performance.now();
      r = m.leaf.re.test(input);
      b.spentMs += performance.now() - t0;
      if (b.spentMs > b.limitMs) {
        throw new FilterError(`filter too expensive: its regular expressions ran for more than ${b.limitMs} ms on this result`, 0, b.expression, true);
      }
      break;
    }
  }
  // A value of the wrong shape (free-form data): neither the operator nor its negation holds.
  if (r === undefined) return false;
  return m.negate ? !r : r;
}
