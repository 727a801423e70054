// The plugins compiled into the binary. Adding a built-in plugin = one line here.
import type { PluginModule } from "./types.ts";
import probe from "../../plugins/probe/index.ts";
import discovery from "../../plugins/discovery/index.ts";
import dns from "../../plugins/dns/index.ts";

export function builtinPlugins(): PluginModule<any>[] {
  return [probe, discovery, dns];
}
