// Config tables that are another plugin's keys under a name of their own.
// Issue 17 (and Nomad users) write `[plugins.container] allow_privileged`;
// the container driver is part of the exec plugin, whose keys are
// `[plugins.exec] container_*`. One rule folds the first into the second
// when the file is read, so everything after (the exec plugin's schema and
// its errors, reloads, `corral config`) sees only `[plugins.exec]`. Pure.

/** Alias table → the plugin that owns its keys and the prefix its keys take there. */
export const PLUGIN_TABLE_ALIASES: Readonly<Record<string, { plugin: string; prefix: string }>> = {
  container: { plugin: "exec", prefix: "container_" },
};

/**
 * The settings with every alias table folded into its owner's; `conflicts`
 * names keys given both ways (the caller refuses the config: which one was
 * meant cannot be guessed).
 */
export function foldPluginAliases(settings: Readonly<Record<string, Record<string, unknown>>>): { settings: Record<string, Record<string, unknown>>; conflicts: string[] } {
  const out: Record<string, Record<string, unknown>> = { ...settings };
  const conflicts: string[] = [];
  for (const [alias, { plugin, prefix }] of Object.entries(PLUGIN_TABLE_ALIASES)) {
    const table = settings[alias];
    if (table === undefined) continue;
    delete out[alias];
    const owner = { ...(settings[plugin] ?? {}) };
    for (const [k, v] of Object.entries(table)) {
      const key = prefix + k;
      if (key in owner) conflicts.push(`[plugins.${alias}] ${k} and [plugins.${plugin}] ${key} are one setting: give it once`);
      else owner[key] = v;
    }
    out[plugin] = owner;
  }
  return { settings: out, conflicts };
}
