// The plugin host: registers built-in and external plugins, enables,
// disables and reloads them at run time, and isolates their failures.
// Operations on one plugin are serialized (an API toggle racing a file-watch
// reload must not interleave two setups).
import type { FSWatcher } from "node:fs";
import type { Logger } from "../log.ts";
import { buildContext, PluginResources, type ContextDeps } from "./context.ts";
import { discoverExternal, importExternal, watchDir, type ExternalEntry } from "./loader.ts";
import { checkPluginsDir, UntrustedPluginError } from "./trust.ts";
import { PluginLoadError } from "./load-error.ts";
import { stableJson } from "../stable-json.ts";
import type { PluginHandle, PluginModule } from "./types.ts";

export type PluginState = "disabled" | "enabled" | "failed";

export interface PluginInfo {
  name: string;
  version: string;
  description: string;
  source: "builtin" | "external";
  path?: string;
  state: PluginState;
  error?: string;
  /** ms since epoch of the last state change. */
  since: number;
  reloads: number;
}

interface PluginRecord extends PluginInfo {
  module?: PluginModule<any>;
  entry?: ExternalEntry;
  handle?: PluginHandle;
  resources?: PluginResources;
  /** The `[plugins.<name>]` table it was started with (stable JSON): a reload restarts it only when this changes. */
  applied?: string;
  queue: Promise<unknown>;
}

export class PluginError extends Error {
  constructor(
    readonly code: "PLUGIN_NOT_FOUND" | "PLUGIN_DEPENDENCY" | "PLUGIN_CONFIG" | "PLUGIN_SETUP_FAILED",
    message: string,
  ) {
    super(message);
  }
}

const STOP_TIMEOUT_MS = 5_000;

export class PluginHost {
  private plugins = new Map<string, PluginRecord>();
  private watcher?: FSWatcher;
  /** The external plugins folder in use ("" = none). */
  private externalDir = "";
  /** Plugins the config enables (plugins.enabled): a new external file starts only if named here. */
  private wanted = new Set<string>();

  constructor(
    private deps: ContextDeps & { log: Logger },
    /** Current `[plugins.<name>]` tables (re-read on SIGHUP). */
    private settings: () => Record<string, Record<string, unknown>>,
    /**
     * Re-reads the config file for one plugin's table before an explicit
     * reload (`corral plugins reload NAME`), so it starts with what the file
     * says now; throws if the file does not load.
     */
    private refresh?: (name: string) => void,
  ) {}

  registerBuiltin(mod: PluginModule<any>): void {
    this.plugins.set(mod.name, this.record(mod.name, "builtin", mod));
  }

  builtinNames(): string[] {
    return [...this.plugins.values()].filter((p) => p.source === "builtin").map((p) => p.name);
  }

  /** Imports every external plugin in dir; a broken one is listed as failed. */
  async loadExternal(dir: string): Promise<string[]> {
    this.externalDir = dir;
    try {
      checkPluginsDir(dir);
    } catch (err) {
      // Nothing from a folder another user can write runs as this node.
      this.deps.log.error("plugins.dir refused: no external plugin is loaded", { path: (err as UntrustedPluginError).path ?? dir, problem: (err as Error).message });
      return [];
    }
    const names: string[] = [];
    for (const entry of discoverExternal(dir)) names.push(await this.loadEntry(entry));
    return names;
  }

  /** Reload external plugins when their files change. */
  watchExternal(dir: string): void {
    try {
      this.watcher = this.startWatch(dir);
    } catch (err) {
      // A missing or unreadable folder: nothing to hot-reload; the node serves on.
      this.deps.log.warn("cannot watch plugins.dir; external plugins will not hot-reload", { dir, err });
    }
  }

  private startWatch(dir: string): FSWatcher {
    return watchDir(dir, (path) => {
      const entry = discoverExternal(dir).find((e) => e.path === path);
      const existing = [...this.plugins.values()].find((p) => p.entry?.path === path);
      if (existing && !entry) {
        void this.serial(existing, () => this.unload(existing));
      } else if (entry) {
        void this.loadEntry(entry, true).catch((err) => this.deps.log.warn("plugin reload failed", { path, err }));
      }
    });
  }

  list(): PluginInfo[] {
    return [...this.plugins.values()]
      .map(({ name, version, description, source, path, state, error, since, reloads }) => ({
        name, version, description, source, path, state, since, reloads,
        ...(error ? { error } : {}),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): PluginInfo | undefined {
    return this.list().find((p) => p.name === name);
  }

  async enable(name: string): Promise<PluginInfo> {
    const rec = this.require(name);
    return this.serial(rec, async () => {
      if (rec.state !== "enabled") await this.start(rec);
      return this.get(name)!;
    });
  }

  async disable(name: string): Promise<PluginInfo> {
    const rec = this.require(name);
    return this.serial(rec, async () => {
      await this.stop(rec, "disabled");
      return this.get(name)!;
    });
  }

  /** Stops and starts again with its table as the config file has it now (and fresh code, for external plugins). */
  async reload(name: string): Promise<PluginInfo> {
    const rec = this.require(name);
    try {
      this.refresh?.(name);
    } catch (err) {
      throw new PluginError("PLUGIN_CONFIG", `config file refused, plugin ${name} not reloaded: ${errorText(err)}`);
    }
    return this.restart(rec);
  }

  private restart(rec: PluginRecord): Promise<PluginInfo> {
    const name = rec.name;
    return this.serial(rec, async () => {
      if (rec.entry) rec.module = await this.importChecked(rec.entry);
      await this.stop(rec, "disabled");
      rec.reloads++;
      await this.start(rec);
      return this.get(name)!;
    });
  }

  /**
   * Brings enabled plugins in line with `wanted` (start, SIGHUP). With
   * `reloadChanged`, an enabled plugin whose `[plugins.<name>]` table
   * changed restarts; one whose table did not is left alone (its tasks,
   * listeners and state untouched).
   */
  async reconcile(wanted: Set<string>, reloadChanged: boolean): Promise<void> {
    this.wanted = wanted;
    for (const rec of this.plugins.values()) {
      // External plugins too start only when listed: a file dropped into plugins.dir is not code the operator chose.
      const want = wanted.has(rec.name);
      if (want && rec.state !== "enabled") await this.enable(rec.name).catch(() => undefined);
      else if (want && reloadChanged && this.configChanged(rec)) {
        this.deps.log.info("plugin config changed; restarting the plugin", { plugin: rec.name });
        await this.restart(rec).catch(() => undefined);
      } else if (!want && rec.state === "enabled") await this.disable(rec.name);
    }
  }

  /**
   * Switches the external plugins folder (SIGHUP with a new plugins.dir):
   * plugins from the old folder are unloaded, the new folder's are loaded
   * (trust checks included) and start only if plugins.enabled names them
   * (the reconcile that follows does that).
   */
  async useExternalDir(dir: string, watch: boolean): Promise<void> {
    if (dir === this.externalDir) {
      // Same folder: only plugins.watch may have changed.
      if (watch && !this.watcher && dir) this.watchExternal(dir);
      if (!watch && this.watcher) {
        this.watcher.close();
        this.watcher = undefined;
      }
      return;
    }
    this.watcher?.close();
    this.watcher = undefined;
    for (const rec of [...this.plugins.values()]) {
      if (rec.source === "external") await this.serial(rec, () => this.unload(rec));
    }
    this.externalDir = dir;
    if (!dir) return;
    this.deps.log.info("loading external plugins from the new plugins.dir", { dir });
    await this.loadExternal(dir);
    if (watch) this.watchExternal(dir);
  }

  private configChanged(rec: PluginRecord): boolean {
    return rec.applied !== stableJson(this.settings()[rec.name] ?? {});
  }

  async stopAll(): Promise<void> {
    this.watcher?.close();
    for (const rec of this.plugins.values()) await this.serial(rec, () => this.stop(rec, "disabled"));
  }

  /** Live resources held by all plugins (leak tests, /v1/plugins). */
  stats() {
    const total = { timers: 0, closeables: 0, subscriptions: 0, metrics: 0, routes: 0 };
    for (const rec of this.plugins.values()) {
      const c = rec.resources?.counts();
      if (c) for (const k of Object.keys(c) as (keyof typeof c)[]) total[k] += c[k];
    }
    total.routes = this.deps.routes.list().filter((r) => r.owner !== "core").length;
    return total;
  }

  private async loadEntry(entry: ExternalEntry, reloadIfKnown = false): Promise<string> {
    let mod: PluginModule<any>;
    const fallbackName = entry.path.split(/[\\/]/).pop()!.replace(/\.(ts|js|mjs)$/, "");
    try {
      mod = await this.importChecked(entry);
    } catch (err) {
      // The plugin this file was (its name may differ from the file's), else a new record under the file's name.
      const sameName = this.plugins.get(fallbackName);
      const rec = [...this.plugins.values()].find((p) => p.entry?.path === entry.path)
        ?? (sameName?.source === "external" ? sameName : undefined)
        // A broken "dns.ts" must not mark the built-in dns failed: list it under its file name.
        ?? this.record(sameName ? entry.path.split(/[\\/]/).pop()! : fallbackName, "external");
      rec.entry = entry;
      rec.path = entry.path;
      this.plugins.set(rec.name, rec);
      await this.serial(rec, () => this.stop(rec, "failed", err));
      return rec.name;
    }
    const known = this.plugins.get(mod.name);
    if (known && known.source === "builtin") {
      throw new Error(`external plugin ${entry.path} uses the built-in name "${mod.name}"`);
    }
    if (known) {
      await this.serial(known, async () => {
        const wasRunning = known.state === "enabled" || (reloadIfKnown && known.state === "failed");
        await this.stop(known, "disabled");
        Object.assign(known, { module: mod, entry, path: entry.path, version: mod.version, description: mod.description ?? "" });
        if (reloadIfKnown && wasRunning) {
          known.reloads++;
          await this.start(known);
        }
      });
      return mod.name;
    }
    const rec = this.record(mod.name, "external", mod);
    rec.entry = entry;
    rec.path = entry.path;
    this.plugins.set(mod.name, rec);
    // A new file is listed, not started, unless the config names it (corral plugins enable NAME starts it).
    if (reloadIfKnown && this.wanted.has(mod.name)) await this.enable(mod.name).catch(() => undefined);
    else if (reloadIfKnown) this.deps.log.info("new external plugin found; enable it to start it", { plugin: mod.name, path: entry.path });
    return mod.name;
  }

  /** importExternal, with a log line naming the path and the problem when the trust check refuses it. */
  private async importChecked(entry: ExternalEntry): Promise<PluginModule<any>> {
    try {
      return await importExternal(entry);
    } catch (err) {
      if (err instanceof UntrustedPluginError) this.deps.log.error("plugin refused", { path: err.path, problem: err.problem });
      else if (err instanceof PluginLoadError) {
        const { file, line, column, reason } = err.where;
        this.deps.log.error("plugin failed to load", { path: entry.path, file, line, column, error: reason });
      } else this.deps.log.error("plugin failed to load", { path: entry.path, error: errorText(err) });
      throw err;
    }
  }

  private async unload(rec: PluginRecord): Promise<void> {
    await this.stop(rec, "disabled");
    this.plugins.delete(rec.name);
  }

  private async start(rec: PluginRecord): Promise<void> {
    const mod = rec.module;
    if (!mod) throw new PluginError("PLUGIN_SETUP_FAILED", `plugin ${rec.name} could not be loaded: ${rec.error ?? ""}`);
    for (const dep of mod.dependencies ?? []) {
      if (this.plugins.get(dep)?.state !== "enabled") {
        const err = new PluginError("PLUGIN_DEPENDENCY", `plugin ${rec.name} needs plugin ${dep} enabled first`);
        this.setState(rec, "failed", err);
        throw err;
      }
    }
    const raw = this.settings()[rec.name] ?? {};
    rec.applied = stableJson(raw);
    const parsed = mod.configSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const err = new PluginError(
        "PLUGIN_CONFIG",
        `plugins.${rec.name}${issue?.path?.length ? "." + issue.path.join(".") : ""}: ${issue?.message}`,
      );
      this.setState(rec, "failed", err);
      throw err;
    }
    const res = new PluginResources(rec.name, this.deps);
    rec.resources = res;
    const fail = (err: unknown) => {
      if (rec.resources !== res || res.released) return;
      this.deps.log.error("plugin failed", { plugin: rec.name, err });
      void this.serial(rec, () => (rec.resources === res ? this.stop(rec, "failed", err) : undefined));
    };
    try {
      const ctx = buildContext(rec.name, parsed.data, res, this.deps, fail);
      rec.handle = await mod.setup(ctx);
      res.mountPending();
      this.setState(rec, "enabled");
      this.deps.log.info("plugin enabled", { plugin: rec.name, version: rec.version });
    } catch (err) {
      this.deps.log.error("plugin failed to start", { plugin: rec.name, err });
      await this.stop(rec, "failed", err);
      throw new PluginError("PLUGIN_SETUP_FAILED", `plugin ${rec.name} failed to start: ${errorText(err)}`);
    }
  }

  private async stop(rec: PluginRecord, next: PluginState, err?: unknown): Promise<void> {
    const handle = rec.handle;
    const res = rec.resources;
    rec.handle = undefined;
    rec.resources = undefined;
    if (handle) {
      try {
        await withTimeout(Promise.resolve(handle.stop()), STOP_TIMEOUT_MS);
      } catch (stopErr) {
        this.deps.log.warn("plugin stop failed", { plugin: rec.name, err: stopErr });
      }
    }
    if (res) await res.release(this.deps.log);
    const changed = rec.state !== next || err !== undefined;
    this.setState(rec, next, err);
    if (changed && next === "disabled" && handle) this.deps.log.info("plugin disabled", { plugin: rec.name });
  }

  private setState(rec: PluginRecord, state: PluginState, err?: unknown) {
    rec.state = state;
    rec.error = err === undefined ? undefined : errorText(err);
    rec.since = Date.now();
    this.deps.bus.publish("plugin.state", { name: rec.name, state, error: rec.error });
  }

  private record(name: string, source: "builtin" | "external", mod?: PluginModule<any>): PluginRecord {
    return {
      name,
      version: mod?.version ?? "",
      description: mod?.description ?? "",
      source,
      state: "disabled",
      since: Date.now(),
      reloads: 0,
      module: mod,
      queue: Promise.resolve(),
    };
  }

  private require(name: string): PluginRecord {
    const rec = this.plugins.get(name);
    if (!rec) throw new PluginError("PLUGIN_NOT_FOUND", `no plugin named "${name}"`);
    return rec;
  }

  private serial<T>(rec: PluginRecord, fn: () => Promise<T> | T): Promise<T> {
    const run = rec.queue.then(fn, fn);
    rec.queue = run.catch(() => undefined);
    return run;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms))),
  ]);
}
