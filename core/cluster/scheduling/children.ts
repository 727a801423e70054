// Child jobs of periodic and parameterized jobs, pure. A child is the
// parent's spec under a new id (`ID/periodic-<unix time>`,
// `ID/dispatch-<unix time>-<suffix>`) with parentId set and the template
// parts removed, so it is scheduled like any batch or sysbatch job. The
// job's meta (the parent's, then the dispatch's) reaches its tasks as
// CORRAL_META_<KEY> variables; a dispatch payload travels in each task
// (base64) and the agent writes it to the task's dispatch_payload file.
import type { Job, ParameterizedConfig } from "../../scheduler/index.ts";
import { MAX_PAYLOAD_BYTES } from "../../state/domains/jobs-commands.ts";

export function periodicChildId(parentId: string, launchMs: number): string {
  return `${parentId}/periodic-${Math.floor(launchMs / 1000)}`;
}

export function dispatchChildId(parentId: string, atMs: number, suffix: string): string {
  return `${parentId}/dispatch-${Math.floor(atMs / 1000)}-${suffix}`;
}

/** "rack-id" → "RACK_ID": a meta key as an environment variable suffix. */
export function metaEnvName(key: string): string {
  return `CORRAL_META_${key.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
}

export function childJob(parent: Job, childId: string, extra: { meta?: Record<string, string>; payload?: string } = {}): Job {
  const { periodic: _p, parameterized: _q, ...rest } = parent;
  const meta = { ...(parent.meta ?? {}), ...(extra.meta ?? {}) };
  // Meta values are data, not templates: a "${" in one is escaped so task interpolation passes it on as written.
  const metaEnv = Object.fromEntries(Object.entries(meta).map(([k, v]) => [metaEnvName(k), v.replaceAll("${", () => "$${")]));
  const child: Job = {
    ...rest,
    id: childId,
    parentId: parent.id,
    groups: parent.groups.map((g) => ({
      ...g,
      tasks: g.tasks.map((t) => ({
        ...t,
        // The task's own env wins over meta, as over every CORRAL_* variable.
        env: { ...metaEnv, ...t.env },
        ...(extra.payload !== undefined ? { payload: extra.payload } : {}),
      })),
    })),
  };
  if (Object.keys(meta).length > 0) child.meta = meta;
  return child;
}

/** Every reason a dispatch does not fit the parent's parameterized block (empty: it fits). */
export function dispatchProblems(p: ParameterizedConfig, meta: Record<string, string>, payloadBytes: number | undefined): string[] {
  const out: string[] = [];
  if (p.payload === "required" && payloadBytes === undefined) out.push("this job requires a payload");
  if (p.payload === "forbidden" && payloadBytes !== undefined) out.push("this job takes no payload (payload = \"forbidden\")");
  if (payloadBytes !== undefined && payloadBytes > MAX_PAYLOAD_BYTES) out.push(`payload is ${payloadBytes} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
  for (const k of p.metaRequired) if (!(k in meta)) out.push(`missing required meta key "${k}"`);
  const allowed = new Set([...p.metaRequired, ...p.metaOptional]);
  for (const k of Object.keys(meta)) {
    if (!allowed.has(k)) out.push(`meta key "${k}" is not allowed (allowed: ${[...allowed].join(", ") || "none"})`);
  }
  return out;
}
