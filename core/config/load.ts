// Loading corral.toml: read, parse (smol-toml), overlay environment and flags,
// validate (zod), and turn every problem into a precise `file:line: key: reason`.
//
// Precedence: defaults < file < env (CORRAL_<SECTION>_<KEY>) < flags.
// All problems found are reported, one per line, sorted: the file's by line,
// then env, then flags. ConfigError's own file/line/keyPath/reason are the
// first one's. A TOML syntax error stops at that error (nothing else is checked).
import { readFileSync } from "node:fs";
import { parse as parseToml, TomlError } from "smol-toml";
import type { z } from "zod";
import { KeyLocator } from "./locate.ts";
import { MAX_PORTS_BASE, PLUGIN_LISTENER_KEYS, portsFromBase } from "./listeners.ts";
import { isTable, knownKeysAt, strippedKeys, suggest } from "./introspect.ts";
import { ConfigError, formatKeyPath, fromZod, sortIssues, unknownKey, type ConfigIssue, type Path, type RawIssue } from "./issues.ts";
import { KEY_KINDS, SECTIONS, buildConfigSchema, defaultNodeName, type KeyKind, type Section } from "./schema.ts";
import type { Config, Role } from "./types.ts";

export { ConfigError } from "./issues.ts";

export interface LoadFlags {
  bind?: string;
  httpPort?: number;
  dataDir?: string;
  logLevel?: string;
  logFormat?: string;
  name?: string;
  /** [plugins.dns] port (--dns-port). */
  dnsPort?: number | string;
  /** [plugins.invoke] port (--invoke-port). */
  invokePort?: number | string;
  /** --ports BASE: HTTP on BASE, invoke proxy on BASE+1, DNS on BASE+53, unless their own flags say otherwise. */
  ports?: number | string;
}

type NodeFlag = Exclude<keyof LoadFlags, "dnsPort" | "invokePort" | "ports">;

export interface LoadOptions {
  role: Role;
  /** Path to the TOML file. With `text` too, `file` only names the source in messages. */
  file?: string;
  /** TOML source text (instead of reading `file`). */
  text?: string;
  /** Environment; default process.env. Only CORRAL_<SECTION>_<KEY> variables are read. */
  env?: Record<string, string | undefined>;
  /** CLI flags; override env and file. */
  flags?: LoadFlags;
  /** Built-in plugin names: the default for plugins.enabled. */
  builtinPlugins: string[];
  /** Schemas for `[plugins.<name>]` tables; other plugin tables are kept raw. */
  pluginSchemas?: Record<string, z.ZodType>;
  /** Default for node.name; default: the host name (made valid). */
  defaultName?: string;
}

/** Flag option -> [section, key, flag as typed]. */
const FLAG_KEYS: Record<NodeFlag, [Section, string, string]> = {
  bind: ["node", "bind", "--bind"],
  httpPort: ["node", "http_port", "--http-port"],
  dataDir: ["node", "data_dir", "--data-dir"],
  logLevel: ["node", "log_level", "--log-level"],
  logFormat: ["node", "log_format", "--log-format"],
  name: ["node", "name", "--name"],
};

/** `CORRAL_NODE_HTTP_PORT` for ("node", "http_port"). */
export function envName(section: string, key: string): string {
  return `CORRAL_${section.toUpperCase()}_${key.toUpperCase()}`;
}

/** Every environment variable loadConfig reads, with its [section, key]. */
export const ENV_VARS: ReadonlyMap<string, readonly [Section, string]> = new Map(
  SECTIONS.flatMap((s) => Object.keys(KEY_KINDS[s]).map((k) => [envName(s, k), [s, k] as const] as const)),
);

interface Origin {
  file: string;
  keyPath: string;
}

function osReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  let msg = String(err?.message ?? e);
  msg = msg.replace(/,\s*(open|read|scandir)\s+'.*'$/, "");
  if (err?.code && !msg.includes(err.code)) msg = `${err.code}: ${msg}`;
  return msg;
}

function coerceEnv(kind: KeyKind, raw: string): { value: unknown } | { error: string } {
  switch (kind) {
    case "string":
    case "enum":
    case "duration":
      return { value: raw };
    case "int":
      if (/^\s*[+-]?\d+\s*$/.test(raw)) return { value: Number(raw) };
      return { error: `expected an integer, got ${JSON.stringify(raw)}` };
    case "size":
      if (/^\s*\d+\s*$/.test(raw)) return { value: Number(raw) };
      return { value: raw.trim() };
    case "bool": {
      const b = raw.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(b)) return { value: true };
      if (["false", "0", "no", "off"].includes(b)) return { value: false };
      return { error: `expected true or false, got ${JSON.stringify(raw)}` };
    }
    case "map": {
      // "k=v,k2=v2" (CORRAL_NODE_META="rack=r1,zone=a")
      const out: Record<string, string> = {};
      for (const pair of raw.split(",").map((x) => x.trim()).filter((x) => x !== "")) {
        const eq = pair.indexOf("=");
        if (eq <= 0) return { error: `expected KEY=VALUE pairs separated by ",", got ${JSON.stringify(pair)}` };
        out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
      }
      return { value: out };
    }
    case "list":
      return {
        value: raw
          .split(",")
          .map((x) => x.trim())
          .filter((x) => x !== ""),
      };
  }
}

/** Set root[section][key]; false when the file made `section` something other than a table. */
function setIn(root: Record<string, unknown>, section: string, key: string, value: unknown): boolean {
  return setPath(root, [section, key], value);
}

/** Set root[a][b]...[last]; false when the file made a table on the way something else. */
function setPath(root: Record<string, unknown>, path: string[], value: unknown): boolean {
  let t: Record<string, unknown> = root;
  for (const k of path.slice(0, -1)) {
    const next = t[k];
    if (next === undefined) t[k] = {};
    else if (!isTable(next)) return false; // the file's type error for that table is reported instead
    t = t[k] as Record<string, unknown>;
  }
  t[path[path.length - 1]!] = value;
  return true;
}

/** A flag's whole-number value (numbers from the CLI parser, strings from callers). */
function flagInt(v: number | string, flag: string, pre: ConfigIssue[]): number | undefined {
  const c = typeof v === "number" ? (Number.isInteger(v) ? { value: v } : { error: `expected an integer, got ${v}` }) : coerceEnv("int", v);
  if ("error" in c) {
    pre.push({ file: "flags", keyPath: flag, reason: c.error });
    return undefined;
  }
  return c.value as number;
}

/** Load, merge and validate the configuration. Throws ConfigError. */
export function loadConfig(opts: LoadOptions): Config {
  const fileLabel = opts.file ?? (opts.text !== undefined ? "(text)" : "(defaults)");

  // 1. source text
  let text = "";
  if (opts.text !== undefined) text = opts.text;
  else if (opts.file !== undefined) {
    try {
      text = readFileSync(opts.file, "utf8");
    } catch (e) {
      throw new ConfigError({ file: fileLabel, keyPath: "(file)", reason: `cannot read: ${osReason(e)}` });
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  // 2. parse
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const firstLine = e.message.split("\n")[0]!.replace(/^Invalid TOML document:\s*/, "");
      throw new ConfigError({
        file: fileLabel,
        line: e.line,
        keyPath: "(syntax)",
        reason: `${firstLine} (column ${e.column})`,
      });
    }
    throw new ConfigError({ file: fileLabel, keyPath: "(syntax)", reason: String((e as Error)?.message ?? e) });
  }

  const origins = new Map<string, Origin>(); // "section\0key" (or "plugins\0name\0key") -> where the value came from
  const pre: ConfigIssue[] = [];

  // 3. environment
  const env = opts.env ?? process.env;
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith("CORRAL_")) continue;
    const target = ENV_VARS.get(name);
    const listener = PLUGIN_LISTENER_KEYS.find((l) => l.env === name);
    if (listener) {
      const c = coerceEnv(listener.kind, value);
      if ("error" in c) pre.push({ file: "env", keyPath: name, reason: c.error });
      else if (setPath(raw, ["plugins", listener.plugin, listener.key], c.value)) {
        origins.set(`plugins\0${listener.plugin}\0${listener.key}`, { file: "env", keyPath: name });
      }
      continue;
    }
    if (!target) {
      // Only variables that look like config keys are checked, so CORRAL_ADDR,
      // CORRAL_TOKEN and friends (used by the CLI) pass.
      const section = SECTIONS.find((s) => name.startsWith(`CORRAL_${s.toUpperCase()}_`));
      if (section) {
        const s = suggest(name, [...ENV_VARS.keys()]);
        pre.push({
          file: "env",
          keyPath: name,
          reason: s ? `unknown variable (did you mean ${s}?)` : "unknown variable",
        });
      }
      continue;
    }
    const [section, key] = target;
    const kind = (KEY_KINDS[section] as Record<string, KeyKind>)[key]!;
    const c = coerceEnv(kind, value);
    if ("error" in c) {
      pre.push({ file: "env", keyPath: name, reason: c.error });
      continue;
    }
    if (setIn(raw, section, key, c.value)) origins.set(`${section}\0${key}`, { file: "env", keyPath: name });
  }

  // 4. flags
  for (const [opt, value] of Object.entries(opts.flags ?? {})) {
    const target = FLAG_KEYS[opt as NodeFlag];
    if (!target || value === undefined) continue;
    const [section, key, flag] = target;
    let v: unknown = value;
    if (key === "http_port" && typeof v === "string") {
      const c = coerceEnv("int", v);
      if ("error" in c) {
        pre.push({ file: "flags", keyPath: flag, reason: c.error });
        continue;
      }
      v = c.value;
    }
    if (typeof v === "number" && !Number.isInteger(v)) {
      pre.push({ file: "flags", keyPath: flag, reason: `expected an integer, got ${v}` });
      continue;
    }
    if (setIn(raw, section, key, v)) origins.set(`${section}\0${key}`, { file: "flags", keyPath: flag });
  }

  // 4b. listener ports: --ports BASE, then each listener's own flag over it
  const flags = opts.flags ?? {};
  const listenerPorts: Array<[string[], number, string]> = [];
  if (flags.ports !== undefined) {
    const base = flagInt(flags.ports, "--ports", pre);
    if (base !== undefined && (base < 1 || base > MAX_PORTS_BASE)) {
      pre.push({ file: "flags", keyPath: "--ports", reason: `must be between 1 and ${MAX_PORTS_BASE} (DNS takes BASE+53), got ${base}` });
    } else if (base !== undefined) {
      const p = portsFromBase(base);
      if (flags.httpPort === undefined) listenerPorts.push([["node", "http_port"], p.http, "--ports"]);
      listenerPorts.push([["plugins", "invoke", "port"], p.invoke, "--ports"], [["plugins", "dns", "port"], p.dns, "--ports"]);
    }
  }
  for (const l of PLUGIN_LISTENER_KEYS) {
    const v = l.flag === "--dns-port" ? flags.dnsPort : l.flag === "--invoke-port" ? flags.invokePort : undefined;
    if (v === undefined || !l.flag) continue;
    const n = flagInt(v, l.flag, pre);
    if (n !== undefined) listenerPorts.push([["plugins", l.plugin, l.key], n, l.flag]);
  }
  for (const [path, value, flag] of listenerPorts) {
    if (setPath(raw, path, value)) origins.set(path.join("\0"), { file: "flags", keyPath: flag });
  }

  // 5. validate
  const schema = buildConfigSchema({
    role: opts.role,
    defaultName: opts.defaultName ?? defaultNodeName(),
    builtinPlugins: opts.builtinPlugins,
  });
  const pluginSchemas = opts.pluginSchemas ?? {};
  const knownKeys = (path: Path): string[] => {
    if (path[0] === "plugins" && path.length >= 2) {
      const ps = pluginSchemas[String(path[1])];
      return ps ? knownKeysAt(ps, path.slice(2)) : [];
    }
    return knownKeysAt(schema, path);
  };

  const rawIssues: RawIssue[] = [];
  const result = schema.safeParse(raw);
  if (!result.success) fromZod(result.error.issues, [], raw, knownKeys, rawIssues);

  // [plugins.<name>] tables with a schema: validate (output discarded; the
  // plugin host parses `settings` again on enable) and refuse unknown keys.
  const pluginsTable = raw.plugins;
  if (isTable(pluginsTable)) {
    for (const [name, table] of Object.entries(pluginsTable)) {
      const ps = pluginSchemas[name];
      if (!ps || !isTable(table) || name in KEY_KINDS.plugins) continue;
      const prefix: Path = ["plugins", name];
      const r = ps.safeParse(table);
      if (!r.success) fromZod(r.error.issues, prefix, table, knownKeys, rawIssues);
      for (const [parent, key] of strippedKeys(ps, table)) {
        rawIssues.push(unknownKey([...prefix, ...parent, key], knownKeys([...prefix, ...parent])));
      }
    }
  }

  // 6. locate and report
  if (rawIssues.length > 0 || pre.length > 0) {
    const locator = new KeyLocator(text);
    const issues: ConfigIssue[] = [...pre];
    for (const ri of rawIssues) {
      const depth = ri.path.length >= 3 && origins.has(ri.path.slice(0, 3).map(String).join("\0")) ? 3 : 2;
      const origin = ri.path.length >= 2 ? origins.get(ri.path.slice(0, depth).map(String).join("\0")) : undefined;
      if (origin) {
        const rest = ri.path.slice(depth);
        const where = rest.length > 0 ? `${formatKeyPath(rest).replace(/^\[(\d+)\]/, (_, n) => `item ${Number(n) + 1}`)}: ` : "";
        issues.push({ file: origin.file, keyPath: origin.keyPath, reason: where + ri.reason });
      } else {
        const line = locator.lineOf(ri.path);
        issues.push({
          file: fileLabel,
          ...(line !== undefined ? { line } : {}),
          keyPath: formatKeyPath(ri.path),
          reason: ri.reason,
        });
      }
    }
    throw new ConfigError(sortIssues(issues, fileLabel));
  }

  const parsed = result.data!;
  return {
    ...(opts.file !== undefined ? { file: opts.file } : {}),
    role: opts.role,
    ...parsed,
  };
}
