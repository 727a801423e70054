// The task template engine (docs/jobs.md "Templates"): liquidjs, a
// maintained Liquid implementation that evaluates no JavaScript, with
// corral's data filters registered. Pure: the filters read from a `lookup`
// the caller gives (the agent's cache of KV, catalog and variables); the
// job validation uses the same engine with a lookup that is never called,
// so a template that parses at submission parses on the agent too.
import { Drop, Liquid, Tag, type FS, type TagToken, type TopLevelToken, type Liquid as LiquidT } from "liquidjs";

/** Bounds on templates (STYLE: a limit on everything). */
export const TEMPLATE_LIMITS = {
  perTask: 16,
  dataChars: 64 * 1024,
  /** Rendered output of one template. */
  outputBytes: 1024 * 1024,
  /** liquidjs: time to render one template, and the memory its strings and arrays may take. */
  renderMs: 2_000,
  memory: 8 * 1024 * 1024,
} as const;

/** What a template reads; the filters name it, the agent fetches and watches it. */
export type TemplateDep =
  | { kind: "kv"; key: string }
  | { kind: "kvtree"; key: string }
  | { kind: "service"; key: string }
  | { kind: "var"; key: string };

export const depId = (d: TemplateDep): string => `${d.kind}:${d.key}`;

export interface KvPair {
  Key: string;
  Value: string;
}
export interface ServiceEntry {
  Address: string;
  Port: number;
  ID: string;
  Name: string;
  Node: string;
  Tags: string[];
}

/**
 * The value of a dependency as last fetched: `absent` when the leader said
 * there is none (a missing key, a variable the task may not read, with why).
 * `undefined` from the lookup: not fetched yet.
 */
export type DepValue =
  | { ok: true; value: unknown }
  | { ok: false; absent: string };

/** Thrown while rendering when a dependency was not fetched yet: the caller fetches it and renders again. */
export class NotFetched extends Error {
  constructor(readonly dep: TemplateDep) {
    super(`waiting for ${depId(dep)}`);
  }
}

/** Thrown when a dependency exists nowhere (Nomad: `Missing: kv.block(...)`); the task stays pending. */
export class MissingData extends Error {}

const str = (v: unknown, what: string): string => {
  if (typeof v !== "string" || v === "") throw new MissingData(`${what} needs a non-empty string`);
  return v;
};

/**
 * Collections by name, for loops: `{% for s in service["db"] %}`. Liquid's
 * `for` takes no filters, so what a loop walks is a variable; these Drops
 * answer any name they are asked for (liquidMethodMissing).
 */
class Lookup extends Drop {
  constructor(private fn: (name: string) => unknown) {
    super();
  }
  override liquidMethodMissing(name: string): unknown {
    return this.fn(String(name));
  }
}

export interface TemplateEngine {
  liquid: Liquid;
  /** The variables every template sees besides the caller's: service, tree, ls. */
  globals: Record<string, unknown>;
}

/**
 * Liquid's file tags read partials from the file system (relative to the
 * process's folder by default): on the agent, as root. Templates read no
 * files: these tags are refused when the template is parsed (so at
 * submission, with the key path), and the engine's file system finds nothing.
 */
const FILE_TAGS = ["include", "render", "layout"] as const;
const NO_FILES: FS = {
  exists: async () => false, existsSync: () => false,
  readFile: async (f: string) => {
    throw new Error(`templates read no files (${f})`);
  },
  readFileSync: (f: string) => {
    throw new Error(`templates read no files (${f})`);
  },
  resolve: (_dir: string, file: string) => file,
};
function refusedTag(name: string) {
  return class extends Tag {
    constructor(token: TagToken, remain: TopLevelToken[], liquid: LiquidT) {
      super(token, remain, liquid);
      throw new Error(`{% ${name} %} is not available: templates read no files; put the text in data`);
    }
    *render(): Generator<unknown, void, unknown> {}
  };
}

export function createEngine(lookup: (d: TemplateDep) => DepValue | undefined): TemplateEngine {
  // strictFilters: an unknown filter is a parse error (at submission); outputEscape none: config files are not HTML.
  const e = new Liquid({
    strictFilters: true, strictVariables: false, ownPropertyOnly: true, cache: false,
    parseLimit: TEMPLATE_LIMITS.dataChars, renderLimit: TEMPLATE_LIMITS.renderMs, memoryLimit: TEMPLATE_LIMITS.memory,
    fs: NO_FILES, root: [], partials: [], layouts: [], relativeReference: false,
  });
  for (const t of FILE_TAGS) e.registerTag(t, refusedTag(t));
  const get = (d: TemplateDep): unknown => {
    const v = lookup(d);
    if (v === undefined) throw new NotFetched(d);
    if (!v.ok) throw new MissingData(v.absent);
    return v.value;
  };
  const getOr = (d: TemplateDep): DepValue => {
    const v = lookup(d);
    if (v === undefined) throw new NotFetched(d);
    return v;
  };
  const services = (n: unknown) => get({ kind: "service", key: str(n, "service") });
  const tree = (k: unknown) => {
    const v = getOr({ kind: "kvtree", key: str(k, "tree") });
    return v.ok ? v.value : [];
  };
  // ls: only the keys directly under the prefix (no deeper "/"), as consul-template's `ls`.
  const ls = (k: unknown) => (tree(k) as KvPair[]).filter((p) => !p.Key.includes("/"));
  // {{ "cfg/x" | key }}: the value of a KV key; a missing key holds the task (consul-template's `key`).
  e.registerFilter("key", (k: unknown) => get({ kind: "kv", key: str(k, "key") }));
  // {{ "cfg/x" | key_or_default: "fallback" }}
  e.registerFilter("key_or_default", (k: unknown, dflt: unknown) => {
    const v = getOr({ kind: "kv", key: str(k, "key_or_default") });
    return v.ok ? v.value : dflt ?? "";
  });
  // tree["cfg/"]: every key under a prefix (Key relative to it); ls["cfg/"]: only those directly under it.
  // service["db"]: the passing instances. As filters too ({% assign dbs = "db" | service %}).
  e.registerFilter("tree", tree);
  e.registerFilter("ls", ls);
  e.registerFilter("service", services);
  // {{ "jobs/web/db" | var: "password" }}: an item of a variable, read with the task's own token.
  e.registerFilter("var", (p: unknown, item: unknown) => {
    const items = get({ kind: "var", key: str(p, "var") }) as Record<string, string>;
    if (item === undefined) return items;
    if (typeof item !== "string" || !Object.hasOwn(items, item)) throw new MissingData(`Missing: var(${String(p)}) has no item "${String(item)}"`);
    return items[item];
  });
  return { liquid: e, globals: { service: new Lookup(services), tree: new Lookup(tree), ls: new Lookup(ls) } };
}

const checker = createEngine(() => undefined).liquid;

/** Why a template cannot be used (a parse error, too long), or undefined. For job validation. */
export function templateError(data: string): string | undefined {
  if (data.length > TEMPLATE_LIMITS.dataChars) return `at most ${TEMPLATE_LIMITS.dataChars} characters`;
  try {
    checker.parse(data);
    return undefined;
  } catch (err) {
    return (err as Error).message.slice(0, 500);
  }
}
