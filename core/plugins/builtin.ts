// The plugins compiled into the binary. Adding a built-in plugin = one line here.
import type { PluginModule } from "./types.ts";
import probe from "../../plugins/probe/index.ts";

export function builtinPlugins(): PluginModule<any>[] {
  return [probe];
}
