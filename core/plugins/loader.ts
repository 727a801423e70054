// Finds and imports external plugins from plugins.dir: a .ts/.js file, or a
// folder with index.ts/index.js. Each import gets a fresh URL so that a
// changed file is really re-read (the runtime caches modules by URL).
import { existsSync, readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import { join, extname } from "node:path";
import { pathToFileURL } from "node:url";
import type { PluginModule } from "./types.ts";
import { checkPluginPath } from "./trust.ts";
import { locateLoadError, PluginLoadError } from "./load-error.ts";

const FILE_EXTS = new Set([".ts", ".js", ".mjs"]);
const INDEX_FILES = ["index.ts", "index.js", "index.mjs"];

export interface ExternalEntry {
  /** plugins.dir. */
  dir: string;
  /** The file or folder in plugins.dir. */
  path: string;
  /** The file to import. */
  entry: string;
}

export function discoverExternal(dir: string): ExternalEntry[] {
  if (!dir || !existsSync(dir)) return [];
  const found: ExternalEntry[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    const plugin = FILE_EXTS.has(extname(name)) && !name.endsWith(".d.ts");
    // A dangling link is listed too: the trust check then says what is wrong with it.
    if ((!st && plugin) || (st?.isFile() && plugin)) {
      found.push({ dir, path, entry: path });
    } else if (st?.isDirectory()) {
      const index = INDEX_FILES.map((f) => join(path, f)).find((f) => existsSync(f));
      if (index) found.push({ dir, path, entry: index });
    }
  }
  return found;
}

let importGeneration = 0;

// Hidden from bundlers so they leave run-time plugin imports alone.
const dynamicImport = new Function("s", "return import(s)") as (s: string) => Promise<any>;

/**
 * Imports an external plugin once its files pass the trust check
 * (core/plugins/trust.ts: owner, mode, symlinks); throws UntrustedPluginError
 * before any of its code runs otherwise.
 */
export async function importExternal(entry: ExternalEntry): Promise<PluginModule<any>> {
  checkPluginPath(entry.dir, entry.path);
  return importPlugin(entry.entry, entry.path);
}

/**
 * Imports a plugin module; checks the exported shape. Throws PluginLoadError
 * naming file, line and column when the runtime says where (a syntax error, a
 * throw at load); `root` is the plugin's file or folder, to find its frames.
 */
export async function importPlugin(entry: string, root: string = entry): Promise<PluginModule<any>> {
  // Bun keys its module cache on the path and ignores the query of a file://
  // URL, but treats "/abs/path?v=N" as a new module; Node and Deno need a URL.
  const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
  const url = `${isBun ? entry : pathToFileURL(entry).href}?v=${++importGeneration}`;
  let mod: any;
  try {
    mod = await dynamicImport(url);
  } catch (err) {
    const where = locateLoadError(err, root);
    throw new PluginLoadError(where.file ? where : { ...where, file: entry });
  }
  const plugin = (mod.default ?? mod.plugin) as PluginModule<any> | undefined;
  const problems: string[] = [];
  if (!plugin || typeof plugin !== "object") problems.push("no default export (or `plugin` export)");
  else {
    if (typeof plugin.name !== "string" || !/^[a-z][a-z0-9-]{0,39}$/.test(plugin.name))
      problems.push("name must be a lowercase word (a-z, 0-9, -)");
    if (typeof plugin.version !== "string") problems.push("version must be a string");
    if (typeof plugin.setup !== "function") problems.push("setup must be a function");
    if (!plugin.configSchema || typeof (plugin.configSchema as { safeParse?: unknown }).safeParse !== "function")
      problems.push("configSchema must be a zod schema");
  }
  if (problems.length) throw new PluginLoadError({ file: entry, reason: `not a corral plugin: ${problems.join("; ")}` });
  return plugin!;
}

/**
 * Watches plugins.dir and calls onChange with the top-level entry (file or
 * folder path) that changed, debounced so an editor's burst of writes
 * triggers one reload.
 */
export function watchDir(dir: string, onChange: (path: string) => void, debounceMs = 150): FSWatcher {
  const pending = new Map<string, ReturnType<typeof setTimeout>>();
  const watcher = watch(dir, { recursive: true }, (_event, filename) => {
    if (!filename) return;
    const top = String(filename).split(/[\\/]/)[0]!;
    if (top.startsWith(".")) return;
    const path = join(dir, top);
    clearTimeout(pending.get(path));
    pending.set(
      path,
      setTimeout(() => {
        pending.delete(path);
        onChange(path);
      }, debounceMs),
    );
  });
  const close = watcher.close.bind(watcher);
  watcher.close = () => {
    for (const t of pending.values()) clearTimeout(t);
    close();
  };
  return watcher;
}
