// What `corral dev` allows when started without a config file (`npm start`):
// raw tasks ([plugins.exec] allow_raw = true), as Nomad's `-dev` agent
// enables raw_exec. A dev node is a single-user playground; without raw
// mode, a dev node started as the user (not root) could run no task at all,
// and `corral job init`'s example could not run on every machine. Only while
// the API listens on loopback (the dev default, 127.0.0.1): `--bind 0.0.0.0`
// without ACLs would let anyone who reaches the port run commands as the
// node's user. With a config file nothing is implied: allow_raw is what the
// file says (default false), so a dev node that matters is set up
// deliberately. Pure.
import type { Config } from "../config/types.ts";

export function isLoopback(addr: string): boolean {
  return /^127\./.test(addr) || addr === "::1" || addr === "localhost";
}

export function applyDevDefaults<C extends Pick<Config, "plugins" | "node">>(config: C, role: string, configFile: string | undefined): C {
  if (role !== "dev" || configFile !== undefined || !isLoopback(config.node.bind)) return config;
  const exec = config.plugins.settings.exec ?? {};
  if ("allow_raw" in exec) return config;
  return { ...config, plugins: { ...config.plugins, settings: { ...config.plugins.settings, exec: { ...exec, allow_raw: true } } } };
}

/** Whether applyDevDefaults turned raw tasks on (for the node's start-up warning). */
export function devAllowsRaw(role: string, configFile: string | undefined, bind: string): boolean {
  return role === "dev" && configFile === undefined && isLoopback(bind);
}
