// Every port a node listens on, so that several nodes fit on one machine
// from flags or environment alone (docs/configuration.md, "Several nodes on
// one machine"). The HTTP API's port is node.http_port; the DNS server and
// the invoke proxy are plugins whose ports live in [plugins.dns] and
// [plugins.invoke], which the fixed CORRAL_<SECTION>_<KEY> scheme does not
// reach: their flags and variables are listed here.
import type { KeyKind } from "./schema.ts";

/** A plugin setting reachable from a flag and an environment variable. */
export interface PluginListenerKey {
  plugin: string;
  key: string;
  kind: Extract<KeyKind, "int" | "string">;
  env: string;
  /** The flag, as typed (absent: environment only). */
  flag?: string;
}

export const PLUGIN_LISTENER_KEYS: readonly PluginListenerKey[] = [
  { plugin: "dns", key: "port", kind: "int", env: "CORRAL_PLUGINS_DNS_PORT", flag: "--dns-port" },
  { plugin: "dns", key: "bind", kind: "string", env: "CORRAL_PLUGINS_DNS_BIND" },
  { plugin: "invoke", key: "port", kind: "int", env: "CORRAL_PLUGINS_INVOKE_PORT", flag: "--invoke-port" },
  { plugin: "invoke", key: "bind", kind: "string", env: "CORRAL_PLUGINS_INVOKE_BIND" },
  { plugin: "invoke", key: "mesh_port", kind: "int", env: "CORRAL_PLUGINS_INVOKE_MESH_PORT" },
];

/**
 * `--ports BASE`: the default layout (7700, 7701, 7753) shifted to BASE.
 * A listener's own flag wins over the base.
 */
export const PORT_OFFSETS = { http: 0, invoke: 1, dns: 53 } as const;
export const MAX_PORTS_BASE = 65535 - Math.max(...Object.values(PORT_OFFSETS));

export function portsFromBase(base: number): { http: number; invoke: number; dns: number } {
  return { http: base + PORT_OFFSETS.http, invoke: base + PORT_OFFSETS.invoke, dns: base + PORT_OFFSETS.dns };
}
