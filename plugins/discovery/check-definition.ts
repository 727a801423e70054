// Check definitions of PUT /v1/agent/service/register (Check/Checks) and
// PUT /v1/agent/check/register, validated as Consul does (reference §4.1).
// Keys match case-insensitively and in snake_case, like Consul's decoder.
import { z } from "zod";
import { type CheckStatus, consulError, goDurationMs, goDurationString } from "../../core/sdk/index.ts";
import { httpCheckUrlError, parseGrpcTarget } from "../../core/sdk/index.ts";

export interface CheckSpec {
  id: string;
  name: string;
  /** "" = a node-level check. */
  serviceId: string;
  notes: string;
  /** ttl runs here; http/tcp/grpc/script (Args) are run by the health plugin; maintenance is set by the agent endpoints. */
  type: "ttl" | "http" | "tcp" | "grpc" | "script" | "maintenance";
  /** Status at registration (Consul's default: critical). */
  status: CheckStatus;
  ttlMs?: number;
  deregisterAfterMs?: number;
  /** Consul's HealthCheck.Definition: durations as quoted Go strings. */
  definition: Record<string, unknown>;
}

const CHECK_FIELDS = [
  "CheckID", "ID", "Name", "Notes", "Status", "ServiceID", "HTTP", "Method", "Header", "Body", "DisableRedirects", "TLSSkipVerify",
  "TLSServerName", "TCP", "Interval", "Timeout", "TTL", "DeregisterCriticalServiceAfter", "SuccessBeforePassing",
  "FailuresBeforeCritical", "FailuresBeforeWarning", "Args", "ScriptArgs", "Script", "DockerContainerID", "Shell",
  "GRPC", "GRPCUseTLS", "H2PING", "UDP", "AliasNode", "AliasService", "OSService",
] as const;

/**
 * Renames keys to their canonical spelling (case-insensitive, "_" ignored); unknown keys are dropped, as Go's decoder does.
 * Two keys naming one field (`ServiceID` and `service_id`) are a 400: which one wins would depend on who reads
 * the body (security issue 13; equal and case-only duplicates are refused earlier, core/http/json-body.ts).
 */
export function canonicalKeys(obj: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const byNorm = new Map(fields.map((f) => [f.toLowerCase().replace(/_/g, ""), f]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const f = byNorm.get(k.toLowerCase().replace(/_/g, ""));
    if (!f) continue;
    if (Object.hasOwn(out, f)) throw consulError(400, `Request decode failed: duplicate key "${k.slice(0, 64)}" (it names the field ${f} again)`);
    out[f] = v;
  }
  return out;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const duration = z.union([z.string().max(64), z.number()]).nullable().optional();
const CheckBody = z.object({
  CheckID: z.string().max(256).optional(), ID: z.string().max(256).optional(), Name: z.string().max(256).optional(),
  Notes: z.string().max(4096).optional(), Status: z.string().max(16).optional(), ServiceID: z.string().max(256).optional(),
  HTTP: z.string().max(2048).optional(), Method: z.string().max(16).optional(),
  Header: z.record(z.string().max(256), z.array(z.string().max(4096)).max(32)).nullable().optional(),
  Body: z.string().max(65_536).optional(), DisableRedirects: z.boolean().optional(), TLSSkipVerify: z.boolean().optional(), TLSServerName: z.string().max(256).optional(),
  TCP: z.string().max(300).optional(),
  GRPC: z.string().max(600).optional(), GRPCUseTLS: z.boolean().optional(),
  Args: z.array(z.string().max(4096)).min(1).max(64).optional(),
  Interval: duration, Timeout: duration, TTL: duration, DeregisterCriticalServiceAfter: duration,
  SuccessBeforePassing: z.number().int().min(0).max(1000).optional(),
  FailuresBeforeCritical: z.number().int().min(0).max(1000).optional(),
  FailuresBeforeWarning: z.number().int().min(0).max(1000).optional(),
});

/** The first zod issue as a short Consul-style sentence. */
export function decodeError(prefix: string, err: z.ZodError) {
  const i = err.issues[0];
  const where = i?.path?.length ? `${prefix}${i.path.join(".")}: ` : prefix;
  return consulError(400, `Request decode failed: ${where}${i?.message ?? "invalid"}`.slice(0, 200));
}

/**
 * A JSON object under Consul's field names (canonicalKeys) checked by `schema`, with Consul-style 400s.
 * `canon` keeps every known field (for those the schema leaves loose); `what` names the object in the error.
 */
export function decodeObject<S extends z.ZodType>(raw: unknown, what: string, fields: readonly string[], schema: S, prefix = ""): { canon: Record<string, unknown>; body: z.output<S> } {
  if (!isObject(raw)) throw consulError(400, `Request decode failed: ${what} must be a JSON object`);
  const canon = canonicalKeys(raw, fields);
  const parsed = schema.safeParse(canon);
  if (!parsed.success) throw decodeError(prefix, parsed.error);
  return { canon, body: parsed.data };
}

/** A check's Status field: critical when absent (Consul's default), else one of the three. */
export function checkStatus(raw: string | undefined): CheckStatus {
  const status = raw || "critical";
  if (status !== "passing" && status !== "warning" && status !== "critical") throw consulError(400, "Status for checks must 'passing', 'warning', 'critical'");
  return status;
}

function dur(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const ms = goDurationMs(v);
  if (ms === undefined) throw consulError(400, `Request decode failed: ${key}: invalid duration ${JSON.stringify(v)}`);
  return ms;
}

/** Consul's script-check refusal, pointing at the key that allows them. */
export const SCRIPT_CHECKS_DISABLED = "script checks are disabled on this agent; to allow Args checks set plugins.health.enable_exec_checks = true";

/** Refuses the check kinds corral does not run (§4.1 "not needed"); Args only with exec checks allowed. */
function refuseUnsupported(b: Record<string, unknown>, allowExec: boolean) {
  const set = (k: string) => b[k] !== undefined && b[k] !== null && b[k] !== "" && !(Array.isArray(b[k]) && (b[k] as unknown[]).length === 0);
  if (!allowExec && (set("Args") || set("ScriptArgs") || set("Script"))) throw consulError(400, SCRIPT_CHECKS_DISABLED);
  if (set("Script")) throw consulError(400, "Script (a shell command line) is not supported; use Args (an argument vector, run without a shell)");
  if (set("ScriptArgs") && !set("Args")) b.Args = b.ScriptArgs;
  for (const k of ["DockerContainerID", "H2PING", "UDP", "AliasNode", "AliasService", "OSService"]) {
    if (set(k)) throw consulError(400, `${k} checks are not supported`);
  }
}

export interface CheckContext {
  /** For checks inside a service definition. */
  service?: { id: string; name: string; position: number; count: number };
  /** Accept Args (exec) checks: plugins.health.enable_exec_checks, announced by the health plugin. */
  allowExec?: boolean;
}

export function parseCheck(raw: unknown, ctx: CheckContext = {}): CheckSpec {
  if (!isObject(raw)) throw consulError(400, "Request decode failed: a check must be a JSON object");
  const canon = canonicalKeys(raw, CHECK_FIELDS);
  refuseUnsupported(canon, ctx.allowExec === true);
  const parsed = CheckBody.safeParse(canon);
  if (!parsed.success) throw decodeError("Check.", parsed.error);
  const b = parsed.data;
  const intervalMs = dur(canon, "Interval");
  const timeoutMs = dur(canon, "Timeout");
  const ttlMs = dur(canon, "TTL");
  const deregisterAfterMs = dur(canon, "DeregisterCriticalServiceAfter");

  if (b.HTTP && b.TCP) throw consulError(400, "Only one of HTTP or TCP may be set per check");
  if ([b.HTTP, b.TCP, b.GRPC, b.Args].filter(Boolean).length > 1) throw consulError(400, "Only one of Args, HTTP, TCP or GRPC may be set per check");
  const type = b.HTTP ? "http" : b.TCP ? "tcp" : b.GRPC ? "grpc" : b.Args ? "script" : "ttl";
  if (b.GRPC && !parseGrpcTarget(b.GRPC)) throw consulError(400, `GRPC must be "host:port" or "host:port/service", got ${JSON.stringify(b.GRPC.slice(0, 100))}`);
  if (b.HTTP) {
    // http(s) only: the prober is this node, and fetch reads file: and data: URLs too (check-url.ts).
    const bad = httpCheckUrlError(b.HTTP);
    if (bad) throw consulError(400, bad);
  }
  if (type !== "ttl") {
    if (ttlMs) throw consulError(400, "Interval and TTL cannot both be specified");
    if (!intervalMs) throw consulError(400, "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or GRPC checks");
  } else if (!ttlMs) {
    throw consulError(400, "TTL must be > 0 for TTL checks");
  }
  const status = checkStatus(b.Status);

  const svc = ctx.service;
  const id = b.CheckID || b.ID || (svc ? (svc.count > 1 ? `service:${svc.id}:${svc.position}` : `service:${svc.id}`) : b.Name);
  const name = b.Name || (svc ? `Service '${svc.name}' check` : "");
  if (!name) throw consulError(400, "Missing check name");
  if (!id) throw consulError(400, "Missing check ID");

  const definition: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => v !== undefined && v !== null && v !== "" && (definition[k] = v);
  put("HTTP", b.HTTP);
  put("Method", b.Method);
  put("Header", b.Header);
  put("Body", b.Body);
  if (b.DisableRedirects) definition.DisableRedirects = true;
  if (b.TLSSkipVerify !== undefined) definition.TLSSkipVerify = b.TLSSkipVerify;
  put("TLSServerName", b.TLSServerName);
  put("TCP", b.TCP);
  put("GRPC", b.GRPC);
  if (b.GRPC && b.GRPCUseTLS !== undefined) definition.GRPCUseTLS = b.GRPCUseTLS;
  put("ScriptArgs", b.Args);
  if (intervalMs) definition.Interval = goDurationString(intervalMs);
  if (timeoutMs) definition.Timeout = goDurationString(timeoutMs);
  if (ttlMs) definition.TTL = goDurationString(ttlMs);
  if (deregisterAfterMs) definition.DeregisterCriticalServiceAfter = goDurationString(deregisterAfterMs);
  put("SuccessBeforePassing", b.SuccessBeforePassing);
  put("FailuresBeforeCritical", b.FailuresBeforeCritical);
  put("FailuresBeforeWarning", b.FailuresBeforeWarning);

  return {
    id, name, serviceId: svc ? svc.id : (b.ServiceID ?? ""), notes: b.Notes ?? "", type, status,
    ttlMs: type === "ttl" ? ttlMs : undefined, deregisterAfterMs: deregisterAfterMs || undefined, definition,
  };
}
