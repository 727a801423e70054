// Bus topics the health plugin announces itself on, so other plugins can
// adapt without a hard dependency: discovery accepts exec (Args) checks only
// while `execChecks` is true; exec's stopgap check runner steps aside while
// `enabled` is true (run_checks = "auto").
//
//   health.state          health → anyone: HealthState, at start and stop, and on request
//   health.state.request  anyone → health: "announce yourself" (a plugin that starts after health)
import { announcement } from "../../core/sdk/index.ts";

export const HEALTH_STATE_TOPIC = "health.state";
export const HEALTH_STATE_REQUEST_TOPIC = "health.state.request";

export interface HealthState {
  /** The health plugin runs this node's http, tcp and (if allowed) exec checks. */
  enabled: boolean;
  /** plugins.health.enable_exec_checks, while enabled. */
  execChecks: boolean;
}

export function parseHealthState(payload: unknown): HealthState {
  const p = (payload ?? {}) as Partial<HealthState>;
  const enabled = p.enabled === true;
  return { enabled, execChecks: enabled && p.execChecks === true };
}

/** The typed handshake: health announces (core/plugins/channel.ts `announce`), discovery and exec follow. */
export const HEALTH_STATE = announcement<HealthState>(HEALTH_STATE_TOPIC, parseHealthState);
