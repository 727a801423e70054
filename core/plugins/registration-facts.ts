// The node facts plugins contribute to the node's registration (attributes,
// resources, reserved): each plugin's registrationFacts hook, in the order of
// the plugin list. Core names no plugin here; the probe plugin reports the
// host's fingerprint, exec what its driver can run (raw mode, isolation).
import type { Logger } from "../log.ts";
import type { PluginModule, RegistrationFacts } from "./types.ts";

export type CollectedFacts = Required<RegistrationFacts>;

export async function collectRegistrationFacts(
  modules: readonly PluginModule<any>[],
  settings: Record<string, Record<string, unknown>>,
  dataDir: string,
  log: Logger,
): Promise<CollectedFacts> {
  const attributes: Record<string, string> = {};
  let resources: CollectedFacts["resources"] | undefined;
  let reserved: CollectedFacts["reserved"] | undefined;
  for (const mod of modules) {
    if (!mod.registrationFacts) continue;
    const facts = await mod.registrationFacts({ table: settings[mod.name], dataDir, log });
    Object.assign(attributes, facts.attributes);
    resources = facts.resources ?? resources;
    reserved = facts.reserved ?? reserved;
  }
  // The leaders need the node's capacity to place anything: a binary whose
  // plugin list reports none is built wrong, not misconfigured.
  if (!resources || !reserved) throw new Error("no plugin reports the node's resources (the probe plugin does)");
  return { attributes, resources, reserved };
}
