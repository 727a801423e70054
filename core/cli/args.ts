// A small argument parser: `--flag value`, `--flag=value`, boolean `--flag`,
// and positionals. Unknown flags are usage errors (exit 2), as Nomad's CLI does.
import { didYouMean } from "./suggest.ts";

// "list" splits each value on commas; "repeat" keeps each value whole (`--meta k=a,b`).
export type FlagType = "string" | "number" | "boolean" | "list" | "repeat";

export interface FlagSpec {
  type: FlagType;
  help: string;
  /** Shown in help, e.g. "ADDR". */
  value?: string;
  /** One-letter alias, e.g. "f" for -f (a valued flag takes the next word: -n 3). */
  short?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags?: Record<string, FlagSpec>;
  /** Longer text under the usage line. */
  details?: string;
  /**
   * The words the first positional may be (`kv get|put|delete`): anything
   * else is refused before the command runs, with a "did you mean".
   */
  actions?: string[];
}

export class UsageError extends Error {}

export interface Parsed {
  flags: Record<string, string | number | boolean | string[] | undefined>;
  positionals: string[];
  help: boolean;
}

export function parseArgs(argv: string[], flags: Record<string, FlagSpec> = {}): Parsed {
  const out: Parsed = { flags: {}, positionals: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") {
      out.help = true;
      continue;
    }
    if (!arg.startsWith("--") || arg === "-") {
      const alias = /^-([A-Za-z])$/.exec(arg) && Object.entries(flags).find(([, f]) => f.short === arg[1]);
      if (alias && alias[1].type === "boolean") {
        out.flags[alias[0]] = true;
        continue;
      }
      if (alias) {
        // A short flag with a value (`corral lock -n 3`): read as its long form.
        argv = [...argv.slice(0, i), `--${alias[0]}`, ...argv.slice(i + 1)];
        i--;
        continue;
      }
      // Nomad's single-dash spelling of a long flag (`-meta k=v`) means the same as `--meta k=v`.
      const long = /^-([a-z][a-z0-9-]+)(=.*)?$/.exec(arg);
      if (long && flags[long[1]!]) {
        argv = [...argv.slice(0, i), "-" + arg, ...argv.slice(i + 1)];
        i--;
        continue;
      }
      if (arg.startsWith("-") && arg !== "-") throw new UsageError(`unknown flag ${arg}`);
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = flags[name];
    if (!spec) throw new UsageError(`unknown flag --${name}${didYouMean(name, [...Object.keys(flags), "help"])}`);
    if (spec.type === "boolean") {
      if (eq !== -1) {
        const v = arg.slice(eq + 1);
        if (!["true", "false"].includes(v)) throw new UsageError(`--${name} takes true or false, not "${v}"`);
        out.flags[name] = v === "true";
      } else out.flags[name] = true;
      continue;
    }
    let value: string | undefined = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (spec.type === "number") {
      if (!/^\d+$/.test(value)) throw new UsageError(`--${name} takes a whole number, not "${value}"`);
      out.flags[name] = Number(value);
    } else if (spec.type === "list") {
      const prev = (out.flags[name] as string[] | undefined) ?? [];
      out.flags[name] = [...prev, ...value.split(",").filter(Boolean)];
    } else if (spec.type === "repeat") {
      out.flags[name] = [...((out.flags[name] as string[] | undefined) ?? []), value];
    } else out.flags[name] = value;
  }
  return out;
}

export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, "", spec.summary];
  if (spec.details) lines.push("", spec.details);
  if (spec.actions) lines.push("", `Actions: ${spec.actions.join(", ")}`);
  const rows = Object.entries(spec.flags ?? {}).map(([n, f]) => [
    `  ${f.short ? `-${f.short}, ` : ""}--${n}${f.type === "boolean" ? "" : " " + (f.value ?? f.type.toUpperCase())}`,
    f.help,
  ]);
  rows.push(["  --help", "Show this help"]);
  const width = Math.max(...rows.map((r) => r[0]!.length)) + 2;
  lines.push("", "Options:", ...rows.map(([l, h]) => l!.padEnd(width) + h));
  return lines.join("\n") + "\n";
}
