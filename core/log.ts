// Logger: JSON lines when stdout is not a TTY (for collectors), readable lines
// when it is (for people); node.log_format / --log-format picks one outright.
// No global instance: main builds one and passes it down.
import type { LogFormat, LogLevel } from "./config/types.ts";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level: LogLevel;
  /** "text", "json", or "auto" (text when stdout is a TTY). Default "auto". */
  format?: LogFormat;
  /** Readable output instead of JSON; overrides `format`. */
  pretty?: boolean;
  write?: (line: string) => void;
  now?: () => Date;
}

/** Errors become { message, code, stack } so they survive JSON.stringify. */
function normalize(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) {
      out[k] = { message: v.message, ...("code" in v ? { code: (v as { code: unknown }).code } : {}) };
    } else out[k] = v;
  }
  return out;
}

/** Whether a logger with this format writes text lines. */
export function wantsText(format: LogFormat, isTTY: boolean = Boolean(process.stdout.isTTY)): boolean {
  return format === "text" || (format === "auto" && isTTY);
}

/**
 * A field value in a text line: bare when it is one word, quoted when it has
 * spaces or quotes (so `key=value` pairs stay apart), an error by its message.
 */
export function textValue(v: unknown): string {
  if (v && typeof v === "object" && !Array.isArray(v) && typeof (v as { message?: unknown }).message === "string" && Object.keys(v).every((k) => k === "message" || k === "code")) {
    const e = v as { message: string; code?: unknown };
    return textValue(e.code !== undefined ? `${e.message} (${String(e.code)})` : e.message);
  }
  if (typeof v === "string") return v !== "" && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

export function createLogger(opts: LoggerOptions, base: Record<string, unknown> = {}): Logger {
  const pretty = opts.pretty ?? wantsText(opts.format ?? "auto");
  const write = opts.write ?? ((line: string) => process.stdout.write(line + "\n"));
  const now = opts.now ?? (() => new Date());
  const min = LEVEL_RANK[opts.level];

  function emit(level: LogLevel, msg: string, fields?: Record<string, unknown>) {
    if (LEVEL_RANK[level] < min) return;
    const all = normalize({ ...base, ...(fields ?? {}) });
    const time = now().toISOString();
    if (pretty) {
      const extra = Object.entries(all)
        .map(([k, v]) => `${k}=${textValue(v)}`)
        .join(" ");
      write(`${time} ${level.toUpperCase().padEnd(5)} ${msg}${extra ? "  " + extra : ""}`);
    } else {
      write(JSON.stringify({ time, level, msg, ...all }));
    }
  }

  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(opts, { ...base, ...fields }),
  };
}

/** For tests and tools: drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
