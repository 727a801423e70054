// What the plugins' state right after start means for the start itself.
// A built-in plugin that fails (a DNS or proxy port in use, a bad table) fails
// the start: it is the node's own service, and a Nomad or Consul user expects
// `agent` to exit when a listener cannot bind rather than run half a node.
// An external plugin that fails (a syntax error, a refused file) does not: it
// is an add-on the operator can fix live (plugins.dir is watched), so the node
// starts and its ready line names what failed.
import type { PluginInfo } from "./host.ts";

export interface StartCheck {
  /** Built-in plugins that failed: the start fails. */
  fatal: PluginInfo[];
  /** External plugins that failed, and enabled names no plugin answers to: the node starts, the ready line says so. */
  degraded: string[];
}

export function checkPluginsAtStart(plugins: readonly PluginInfo[], enabled: readonly string[]): StartCheck {
  const wanted = new Set(enabled);
  const byName = new Map(plugins.map((p) => [p.name, p]));
  const fatal = plugins.filter((p) => wanted.has(p.name) && p.state === "failed" && p.source === "builtin");
  const degraded = [
    ...plugins.filter((p) => wanted.has(p.name) && p.state === "failed" && p.source === "external").map((p) => p.name),
    ...enabled.filter((n) => !byName.has(n)).map((n) => `${n} (not found)`),
  ];
  return { fatal, degraded };
}

/** "cannot start: plugin dns failed: dns: cannot listen on 127.0.0.1:7753/udp: ..." */
export function startFailureMessage(fatal: readonly PluginInfo[]): string {
  return `cannot start: ${fatal.map((p) => `plugin ${p.name} failed: ${p.error ?? "(no reason given)"}`).join("; ")}`;
}
