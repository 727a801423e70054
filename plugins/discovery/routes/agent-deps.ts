// What the agent-side routes share: the plugin context, this agent's
// registry, the catalog writer and the check runner.
import type { PluginContext } from "../../../core/sdk/index.ts";
import type { CheckRunner } from "../checks.ts";
import type { LocalRegistry } from "../local.ts";
import type { CatalogSync } from "../sync.ts";

export interface AgentDeps {
  ctx: PluginContext<unknown>;
  registry: LocalRegistry;
  sync: CatalogSync;
  runner: CheckRunner;
  now(): number;
  /** plugins.discovery.max_services_per_node / max_checks_per_node. */
  limits: { services: number; checks: number };
  /** Args checks are accepted (the health plugin runs with enable_exec_checks). */
  execChecks(): boolean;
  /** plugins.discovery.hide_check_output (check-output.ts). */
  hideCheckOutput(): boolean;
}
