// The plugins compiled into the binary. Adding a built-in plugin = one line here.
import type { PluginModule } from "./types.ts";
import probe from "../../plugins/probe/index.ts";
import discovery from "../../plugins/discovery/index.ts";
import dns from "../../plugins/dns/index.ts";
import health from "../../plugins/health/index.ts";
import exec from "../../plugins/exec/index.ts";
import invoke from "../../plugins/invoke/index.ts";
import authz from "../../plugins/authz/index.ts";
import ui from "../../plugins/ui/index.ts";

export function builtinPlugins(): PluginModule<any>[] {
  return [probe, discovery, dns, health, exec, invoke, authz, ui];
}
