// JSON shapes of the jobs API (camelCase, like every corral-native route)
// and the small helpers its routes share: namespace and blocking parameters,
// job spec bodies (JSON or TOML by Content-Type).
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { parseGoDurationMs } from "../http/consul.ts";
import { ApiError } from "../http/errors.ts";
import { once, requestBody } from "../http/json-body.ts";
import { parseJobSpec, type Job } from "../scheduler/index.ts";
import type { StateReader } from "../state/reader.ts";
import type { AllocRow, EvalRow, JobRow } from "../store/schema-jobs.ts";
import { holdsResources } from "../state/domains/jobs-common.ts";
import { evalWithFailures } from "./job-placement.ts";

export const Loose = z.object({}).passthrough();
export const NamespaceQuery = z.object({ namespace: z.string().max(128).optional() });
export const BlockingQuery = z.object({ index: z.string().max(20).optional(), wait: z.string().max(20).optional(), stale: z.string().optional() });

/** Longest a blocking read of the jobs API waits. */
const MAX_WAIT_MS = 5 * 60_000;

export function namespaceOf(c: Context): string {
  return new URL(c.req.url).searchParams.get("namespace") || "default";
}

export function blocking(c: Context): { index: number; waitMs: number } {
  return blockingOf(new URL(c.req.url).searchParams);
}

/** `?index` and `?wait` of the jobs API's blocking reads (a fast path parses its query with this too: core/api/node-alloc-fast.ts). */
export function blockingOf(q: URLSearchParams): { index: number; waitMs: number } {
  const raw = q.get("index");
  if (raw !== null && raw !== "" && !/^\d{1,16}$/.test(raw)) throw new ApiError(400, "INVALID_INPUT", "index must be a whole number");
  const wait = q.get("wait");
  const waitMs = wait ? parseGoDurationMs(wait) : 60_000;
  if (waitMs === undefined) throw new ApiError(400, "INVALID_INPUT", `wait must be a duration such as "30s", not ${JSON.stringify(wait)}`);
  return { index: raw ? Number(raw) : 0, waitMs: Math.min(waitMs, MAX_WAIT_MS) };
}

/**
 * The request's job document (TOML when the Content-Type says so, JSON
 * otherwise), parsed once per request from the body the route table read:
 * the ACL decision (core/acl/route-permissions.ts, the job id) and the
 * handler get the same result.
 */
export function parsedJobSpec(c: Context): Promise<ReturnType<typeof parseJobSpec>> {
  return once(c, "jobs.spec", async () => {
    const type = (c.req.header("content-type") ?? "").toLowerCase();
    return parseJobSpec((await requestBody(c)).text, type.includes("toml") ? "toml" : "json");
  });
}

/** A job document from the request body: TOML when the Content-Type says so, JSON otherwise. */
export async function jobFromBody(c: Context): Promise<Job> {
  const parsed = await parsedJobSpec(c);
  if (!parsed.ok) {
    const first = parsed.errors[0]!;
    throw new JobSpecError(`invalid job: ${first.path ? first.path + ": " : ""}${first.message}${parsed.errors.length > 1 ? ` (and ${parsed.errors.length - 1} more)` : ""}`, parsed.errors);
  }
  return parsed.job;
}

/** A 400 that also lists every problem with its key path. */
export class JobSpecError extends ApiError {
  constructor(message: string, readonly errors: { path: string; message: string }[]) {
    super(400, "INVALID_JOB", message);
  }
}

export interface AllocCounts {
  pending: number;
  running: number;
  complete: number;
  failed: number;
  lost: number;
}

export function allocCounts(allocs: readonly AllocRow[]): AllocCounts {
  const out: AllocCounts = { pending: 0, running: 0, complete: 0, failed: 0, lost: 0 };
  for (const a of allocs) {
    if (a.desiredStatus === "stop" && holdsResources({ ...a, desiredStatus: "run" })) continue; // on its way out
    out[a.clientStatus]++;
  }
  return out;
}

export function jobView(j: JobRow, allocs: readonly AllocRow[]) {
  const { spec, ...rest } = j;
  // meta as Nomad's job list stub has it (and so ?filter=Meta.x can select by it).
  return { ...rest, meta: spec.meta ?? {}, allocations: allocCounts(allocs.filter((a) => a.desiredStatus === "run")) };
}

export function allocView(a: AllocRow, state: StateReader, full = false, nodeName: (id: string) => string | null = (id) => state.getNode(id)?.name ?? null) {
  const { groupSpec, ...rest } = a;
  return { ...rest, nodeName: nodeName(a.nodeId), ...(full ? { groupSpec } : {}) };
}

/**
 * allocView over a list, reading each node's name once: an agent's list holds one node's
 * allocations, and a node read per allocation was a tenth of a leader's CPU in the placement scale run.
 */
export function allocViews(list: readonly AllocRow[], state: StateReader, full = false) {
  const names = new Map<string, string | null>();
  const nodeName = (id: string) => {
    if (!names.has(id)) names.set(id, state.getNode(id)?.name ?? null);
    return names.get(id)!;
  };
  return list.map((a) => allocView(a, state, full, nodeName));
}

export function evalView(e: EvalRow) {
  // Placement failures in Nomad's FailedTGAllocs shape beside corral's failedGroups.
  return evalWithFailures(e);
}

export function jobOr404(state: StateReader, namespace: string, id: string): JobRow {
  const j = state.jobs.getJob(namespace, id);
  if (!j) throw new ApiError(404, "JOB_NOT_FOUND", `no job "${id}" in namespace "${namespace}"`);
  return j;
}
