// The templates of one task on this agent: rendered once before the task
// may start (until then it stays pending, with an event saying what is
// missing), then rendered again whenever something they read changes
// (data.ts watches it with blocking queries). A changed output is written
// and, after a random splay, acted on by change_mode: restart the task,
// send it change_signal, run change_script (change-script.ts), or nothing. Rendering is two-phase, like
// consul-template: a render that reads something not fetched yet starts
// its watch, waits for the first answer and renders again.
import { createEngine, depId, lookupReference, MissingData, NotFetched, parseSignal, prepareTemplateData, refVariable, TEMPLATE_LIMITS, type ChangeScript, type NodeFacts, type TaskTemplate, type TemplateDep } from "../../../core/sdk/index.ts";
import type { TemplateData } from "./data.ts";
import { parseEnvLines, writeTemplateFile } from "./write.ts";

/** Renders that each find one more thing not fetched yet, at most (a template reading more waits for the next change). */
const MAX_ROUNDS = 64;

export interface TaskTemplatesDeps {
  templates: TaskTemplate[];
  taskDir: string;
  owner?: { uid: number; gid: number };
  /** The task's workload identity token (variables are read with it). */
  token?: string;
  data: TemplateData;
  node: NodeFacts;
  /** The task's environment: env templates add to it (the same object the task starts with). */
  env: Record<string, string>;
  event(type: string, message: string): void;
  /** Every template rendered once: the task may start. */
  ready(): void;
  restart(reason: string): void;
  signal(sig: NodeJS.Signals, reason: string): void;
  /** Runs a change_script in the task's sandbox (alloc-runner.ts decides how). */
  script(s: ChangeScript, reason: string): void;
  log: { warn(msg: string, f?: Record<string, unknown>): void };
  random?: () => number;
}

export class TaskTemplates {
  isReady = false;
  private watches = new Map<string, { release(): void; first: Promise<void> }>();
  private last: (string | undefined)[] = [];
  private lastProblem = "";
  private stopped = false;
  private running = false;
  private again = false;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private engine = createEngine((dep) => this.lookup(dep));

  constructor(private d: TaskTemplatesDeps) {}

  start(): void {
    void this.update();
  }

  /** Who later renders are written as: a container task's user, known only once its image is (plugins/container/task-dir-owner.ts). */
  setOwner(owner: { uid: number; gid: number }): void {
    this.d = { ...this.d, owner };
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watches.values()) w.release();
    this.watches.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private lookup(dep: TemplateDep) {
    const id = depId(dep);
    // Not after stop: a rendering still under way must not start a watch nobody releases.
    if (!this.watches.has(id) && !this.stopped) this.watches.set(id, this.d.data.watch(dep, this.d.token, () => void this.update()));
    return this.d.data.peek(dep, this.d.token);
  }

  private scope(refs: Record<string, string>) {
    const n = this.d.node;
    return { ...this.engine.globals, ...refs, node: { id: n.id, name: n.name, datacenter: n.datacenter, attr: n.attributes, meta: n.meta }, env: this.d.env };
  }

  /**
   * The values of a template's `${...}` references, as Liquid variables
   * (core/templates/data-refs.ts): read from the task's own environment and
   * node, as `{{ env.X }}` reads; bound, never pasted into the Liquid text.
   */
  private refValues(refs: string[]): { ok: true; vars: Record<string, string> } | { ok: false; why: string } {
    const vars: Record<string, string> = {};
    for (const [i, ref] of refs.entries()) {
      const v = lookupReference(ref, { env: this.d.env, node: this.d.node });
      if (!v.ok) return { ok: false, why: v.error };
      vars[refVariable(i)] = v.value;
    }
    return { ok: true, vars };
  }

  /** One template's text, or why it cannot be rendered now. */
  private async render(t: TaskTemplate): Promise<{ ok: true; text: string } | { ok: false; why: string }> {
    const prepared = prepareTemplateData(t.data);
    if (!prepared.ok) return { ok: false, why: prepared.error };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const refs = this.refValues(prepared.refs);
      if (!refs.ok) return refs;
      try {
        const text = String(await this.engine.liquid.parseAndRender(prepared.liquid, this.scope(refs.vars)));
        if (Buffer.byteLength(text) > TEMPLATE_LIMITS.outputBytes) return { ok: false, why: `renders more than ${TEMPLATE_LIMITS.outputBytes} bytes` };
        return { ok: true, text };
      } catch (err) {
        const cause = unwrap(err);
        if (cause instanceof NotFetched) {
          await this.watches.get(depId(cause.dep))?.first;
          if (this.stopped) return { ok: false, why: "stopped" };
          const failed = this.d.data.failure(cause.dep, this.d.token);
          if (failed) return { ok: false, why: `${depId(cause.dep)}: ${failed}` };
          continue;
        }
        return { ok: false, why: cause instanceof MissingData ? cause.message : (err as Error).message };
      }
    }
    return { ok: false, why: `reads more than ${MAX_ROUNDS} things` };
  }

  /** Renders every template; writes what changed and acts on it. Calls during a run fold into one more. */
  private async update(): Promise<void> {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        await this.round();
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
    }
  }

  private async round(): Promise<void> {
    const outs: string[] = [];
    for (const [i, t] of this.d.templates.entries()) {
      const r = await this.render(t);
      if (this.stopped) return;
      if (!r.ok) {
        const problem = `template ${t.destination}: ${r.why}`;
        // Said once per distinct problem; a rendered task keeps its last good output.
        if (problem !== this.lastProblem) {
          this.lastProblem = problem;
          this.d.event("Template", this.isReady ? `${problem} (keeping the last rendering)` : `${problem}: the task waits`);
        }
        return;
      }
      if (t.env) {
        const parsed = parseEnvLines(r.text);
        if (!parsed.ok) {
          this.d.event("Template", `template ${t.destination}: ${parsed.error}`);
          return;
        }
      }
      outs[i] = r.text;
    }
    this.lastProblem = "";
    const changed: number[] = [];
    for (const [i, t] of this.d.templates.entries()) {
      if (this.last[i] === outs[i]) continue;
      try {
        if (t.env) {
          const parsed = parseEnvLines(outs[i]!);
          if (parsed.ok) Object.assign(this.d.env, parsed.env);
        } else writeTemplateFile(this.d.taskDir, t.destination, outs[i]!, t.perms, this.d.owner);
      } catch (err) {
        this.d.event("Template", `template ${t.destination}: could not write: ${(err as Error).message}`);
        return;
      }
      this.last[i] = outs[i];
      changed.push(i);
    }
    if (!this.isReady) {
      this.isReady = true;
      this.d.event("Template", `${this.d.templates.length} template(s) rendered`);
      this.d.ready();
      return;
    }
    if (changed.length) this.act(changed);
  }

  /** After a random splay: one restart if any changed template asks for it, else the signals and scripts asked for (each distinct one once). */
  private act(changed: number[]): void {
    const ts = changed.map((i) => this.d.templates[i]!);
    const splay = Math.max(...ts.map((t) => t.splayMs));
    const delay = Math.floor((this.d.random ?? Math.random)() * splay);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopped) return;
      const names = ts.map((t) => t.destination).join(", ");
      if (ts.some((t) => t.changeMode === "restart")) return this.d.restart(`template re-rendered: ${names}`);
      const sigs = new Set(ts.filter((t) => t.changeMode === "signal").map((t) => parseSignal(t.changeSignal ?? "")).filter((s) => s !== undefined));
      for (const s of sigs) this.d.signal(s, `template re-rendered: ${names}`);
      const scripts = new Map(ts.flatMap((t) => (t.changeMode === "script" && t.changeScript ? [[JSON.stringify(t.changeScript), t.changeScript] as const] : [])));
      for (const s of scripts.values()) this.d.script(s, `template re-rendered: ${names}`);
    }, delay);
    this.timers.add(timer);
  }
}

/** liquidjs wraps what a filter throws (RenderError, with `originalError`). */
function unwrap(err: unknown): unknown {
  let e = err as { originalError?: unknown } | undefined;
  for (let i = 0; i < 5 && e && typeof e === "object" && "originalError" in e && e.originalError; i++) e = e.originalError as typeof e;
  return e;
}
