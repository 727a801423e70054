// Conventions shared by the Consul-compatible routes (see
// shared/reference/consul-http-api.md): presence flags, blocking-query
// parameters, and the X-Consul-* headers.
import type { Context } from "hono";
import { consulError } from "./errors.ts";
import { parseGoDuration } from "../config/duration.ts";
import type { ReplicationStatus } from "../state/replicator.ts";

const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;

/** Presence flags (G6): `?recurse`, `?recurse=`, even `?recurse=false` turn it on. */
export function flag(c: Context, name: string): boolean {
  return new URL(c.req.url).searchParams.has(name);
}

/** Go's time.ParseDuration subset Consul clients send ("10s", "5m", "120000ms"). */
export const parseGoDurationMs = parseGoDuration;

export interface BlockingParams {
  /** 0 = do not block. */
  index: number;
  waitMs: number;
  consistency: "default" | "stale" | "consistent";
}

/** B1, B2, B8: index, wait (capped, with Consul's jitter of up to wait/16), consistency. */
export function blockingParams(c: Context, rng: () => number = Math.random): BlockingParams {
  return blockingParamsOf(new URL(c.req.url).searchParams, rng);
}

/** The same from a query (a fast path, which has no hono context: core/api/kv-read-fast.ts). */
export function blockingParamsOf(q: URLSearchParams, rng: () => number = Math.random): BlockingParams {
  let index = 0;
  const rawIndex = q.get("index");
  if (rawIndex !== null && rawIndex !== "") {
    if (!/^\d{1,20}$/.test(rawIndex)) throw consulError(400, "Invalid index");
    index = Number(rawIndex);
  }
  let waitMs = DEFAULT_WAIT_MS;
  const rawWait = q.get("wait");
  if (rawWait !== null && rawWait !== "") {
    const ms = parseGoDurationMs(rawWait);
    if (ms === undefined) throw consulError(400, "Invalid wait time");
    waitMs = Math.min(ms, MAX_WAIT_MS);
  }
  waitMs += Math.floor(rng() * (waitMs / 16));
  const stale = q.has("stale");
  const consistent = q.has("consistent");
  if (stale && consistent) throw consulError(400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
  return { index, waitMs, consistency: stale ? "stale" : consistent ? "consistent" : "default" };
}

/** B4, B7, B8: set on every response of a blocking-capable endpoint. */
export function setConsulHeaders(c: Context, index: number, status: ReplicationStatus | undefined, consistency: BlockingParams["consistency"]) {
  c.header("X-Consul-Index", String(Math.max(1, index)));
  c.header("X-Consul-KnownLeader", String(Boolean(status?.leader)));
  c.header("X-Consul-LastContact", String(Math.max(0, Math.round(status?.lastContactMs ?? 0))));
  c.header("X-Consul-Effective-Consistency", consistency === "default" ? "leader" : consistency);
}

/** G9: accept our own datacenter (?dc); another one has no path. */
export function checkDatacenter(c: Context, ours: string): void {
  assertDatacenter(new URL(c.req.url).searchParams.get("dc"), ours);
}

/** A datacenter a request names (absent: ours): another one than ours has no path. */
export function assertDatacenter(dc: string | null | undefined, ours: string): void {
  if (dc && dc !== ours) throw consulError(500, `No path to datacenter`);
}

/**
 * A Serf member as /v1/agent/members and /v1/agent/self show it (§4.4).
 * Status 1 = alive, 4 = failed; the protocol numbers are Consul's current ones.
 */
export function consulMember(m: { name: string; addr: string; port: number; datacenter: string; role: string; id: string; alive: boolean }) {
  return {
    Name: m.name, Addr: m.addr, Port: m.port,
    Tags: { dc: m.datacenter, role: m.role === "agent" ? "node" : "consul", id: m.id, corral_role: m.role },
    Status: m.alive ? 1 : 4,
    ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
  };
}

