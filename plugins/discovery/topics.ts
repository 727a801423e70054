// Bus topics between the discovery plugin and the plugins that run its
// checks (health; exec's stopgap). The bus is local to the node, so each
// node's health plugin sees exactly its own registrations: a check runs once,
// on the node that owns it.
//
//   discovery.checks          discovery → runners: this node's runnable checks
//                             (http, tcp, grpc, script), as a full "reset" (at start, on
//                             request, [] when discovery stops) or one "put"/"remove"
//   discovery.checks.request  runners → discovery: "send me a reset" (a runner that
//                             starts after discovery)
//   discovery.check.result    runners → discovery: { checkId, status, output }
import { z } from "zod";
import { announcement, channel, CheckStatus } from "../../core/sdk/index.ts";

export const CHECK_RESULT_TOPIC = "discovery.check.result";
export const LOCAL_CHECKS_TOPIC = "discovery.checks";
export const LOCAL_CHECKS_REQUEST_TOPIC = "discovery.checks.request";

/** Check types something other than discovery runs. */
export const RUNNABLE_TYPES: ReadonlySet<string> = new Set(["http", "tcp", "grpc", "script"]);

/** A check as the owning node registered it; `definition` is Consul's (HTTP, TCP, ScriptArgs, Interval…). Read-only. */
export interface LocalCheckInfo {
  id: string;
  serviceId: string;
  type: string;
  status: CheckStatus;
  definition: Readonly<Record<string, unknown>>;
}

export type LocalChecksEvent =
  | { op: "reset"; checks: LocalCheckInfo[] }
  | { op: "put"; check: LocalCheckInfo }
  | { op: "remove"; id: string };

export interface CheckResult {
  checkId: string;
  status: CheckStatus;
  output: string;
}

const CheckResultSchema = z.object({ checkId: z.string(), status: CheckStatus, output: z.string().default("") });

/** Runners → discovery; a malformed result is dropped. */
export const CHECK_RESULT = channel<CheckResult>(CHECK_RESULT_TOPIC, (p) => {
  const r = CheckResultSchema.safeParse(p);
  return r.success ? r.data : undefined;
});

/** Discovery announces its node's runnable checks (events), runners follow; the bus is local and trusted, so no parse. */
export const LOCAL_CHECKS = announcement<LocalChecksEvent>(LOCAL_CHECKS_TOPIC, (p) => p as LocalChecksEvent);
