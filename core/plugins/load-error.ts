// Where an external plugin failed to load: file, line and column, from what
// the runtime threw. Bun throws a BuildMessage for a syntax error (no stack;
// `position` holds file and 1-based line and column), a ResolveMessage for an
// import that does not resolve, and an ordinary Error (its stack names
// file:line:column) for a throw while the module runs. Node and Deno put
// "file:line" in a SyntaxError's stack. Pure: no I/O.

export interface LoadErrorWhere {
  file?: string;
  line?: number;
  column?: number;
  /** The runtime's words, without the place. */
  reason: string;
}

/** The loader's "?v=N" cache buster is ours, not part of the user's path. */
function cleanPath(p: string): string {
  return p.replace(/^file:\/\//, "").replace(/\?v=\d+$/, "");
}

export function locateLoadError(err: unknown, pluginPath: string): LoadErrorWhere {
  const e = err as { message?: unknown; position?: unknown; stack?: unknown } | undefined;
  const reason = String(e?.message ?? err).replace(/\?v=\d+/g, "");
  const pos = e?.position as { file?: unknown; line?: unknown; column?: unknown } | null | undefined;
  if (pos && typeof pos.file === "string" && typeof pos.line === "number") {
    return { file: cleanPath(pos.file), line: pos.line, ...(typeof pos.column === "number" ? { column: pos.column } : {}), reason };
  }
  // A stack frame inside the plugin: "at fn (/path/plugin.ts:12:7)", "/path/plugin.ts:12:7", "file:///path/plugin.js:3".
  const stack = typeof e?.stack === "string" ? e.stack : "";
  const dir = pluginPath.replace(/\/+$/, "");
  for (const m of stack.matchAll(/(?:file:\/\/)?(\/[^\s():]+?)(?:\?v=\d+)?:(\d+)(?::(\d+))?/g)) {
    const file = m[1]!;
    if (file !== dir && !file.startsWith(dir + "/")) continue;
    return { file, line: Number(m[2]), ...(m[3] ? { column: Number(m[3]) } : {}), reason };
  }
  return { reason };
}

/** "/plugins/hello.ts:5:2: Expected "}" but found ";"" (as much of the place as is known). */
export function formatLoadError(w: LoadErrorWhere): string {
  if (!w.file) return w.reason;
  const place = [w.file, w.line, w.line !== undefined ? w.column : undefined].filter((x) => x !== undefined).join(":");
  return `${place}: ${w.reason}`;
}

/** An external plugin's file that did not load, with where. */
export class PluginLoadError extends Error {
  constructor(readonly where: LoadErrorWhere) {
    super(formatLoadError(where));
    this.name = "PluginLoadError";
  }
}
