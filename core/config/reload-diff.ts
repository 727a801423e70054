// What a config reload (SIGHUP) can and cannot apply, as pure functions.
// A reload re-applies plugin settings and the few HTTP guard keys the node
// reads per request; everything else (ports, data dir, the cluster secret,
// Raft timings, rate limits …) is read once at start. Those keys are found
// here so the node can say "node.http_port changed: restart to apply"
// instead of silently keeping the old value.
import type { Config } from "./types.ts";
import { stableJson } from "../stable-json.ts";

/** Keys (dotted, as written in the TOML file) a reload applies while the node runs. */
export const LIVE_KEYS: readonly string[] = ["http.allowed_hosts", "http.allowed_origins", "http.max_body_bytes"];

/** camelCase (and the Ms/Bytes suffixes the loader adds) back to the TOML key a person wrote. */
export function tomlKey(key: string): string {
  return key.replace(/Ms$/, "").replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Keys outside [plugins] whose value differs and that only a restart applies, sorted. */
export function restartOnlyChanges(running: Config, next: Config): string[] {
  const out: string[] = [];
  const sections = ["node", "cluster", "leader", "raft", "agent", "http", "tls"] as const;
  for (const section of sections) {
    const a = running[section] as unknown as Record<string, unknown>;
    const b = next[section] as unknown as Record<string, unknown>;
    for (const key of new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])) {
      const name = `${section}.${tomlKey(key)}`;
      if (LIVE_KEYS.includes(name)) continue;
      if (stableJson(a?.[key]) !== stableJson(b?.[key])) out.push(name);
    }
  }
  if (running.role !== next.role) out.push("role");
  return out.sort();
}
