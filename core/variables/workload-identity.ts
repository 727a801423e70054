// Workload identity (docs/variables.md): every task gets a token that lets it
// read its job's variables and discover services, and nothing else.
//
// The token is a signed claim, not a stored token:
//   cwi1.<allocation id>.<task name>.<HMAC-SHA256, base64url>
// keyed by a key every node derives with HKDF from the cluster secret (the
// same trust as node RPC signatures: a node holding the secret may mint
// one). Nothing is written to the log when a task starts, and there is no
// token row to delete: a leader-role node honours the claim only while its
// allocation exists and is neither stopped nor terminal, checked on every
// request, so the token stops working the moment the allocation stops.
// An agent checks the signature and asks a leader which job the allocation
// belongs to; every read it passes on is checked again by the leader
// (core/acl/read-scope.ts: forwarded reads carry the client's token), and a
// workload token grants no writes.
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import type { ParsedRules } from "../acl/rules.ts";

const PREFIX = "cwi1.";
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ALLOC = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface WorkloadClaim {
  allocId: string;
  task: string;
}

/** Who a verified workload token speaks for. */
export interface WorkloadGrant extends WorkloadClaim {
  namespace: string;
  jobId: string;
  group: string;
  /** The service the task registers (its `service` block), "" for none: its service identity for intentions and the mesh. */
  service: string;
}

export function deriveIdentityKey(clusterSecret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(clusterSecret, "utf8"), Buffer.from("corral-workload-identity-salt-v1"), Buffer.from("corral workload identity v1"), 32));
}

const mac = (key: Uint8Array, allocId: string, task: string) => createHmac("sha256", key).update(`${PREFIX}${allocId}.${task}`).digest("base64url");

export function isWorkloadToken(secret: string): boolean {
  return secret.startsWith(PREFIX);
}

export function mintWorkloadToken(key: Uint8Array, claim: WorkloadClaim): string {
  if (!ALLOC.test(claim.allocId) || !NAME.test(claim.task)) throw new Error(`cannot mint a workload identity for ${claim.allocId}/${claim.task}`);
  return `${PREFIX}${claim.allocId}.${claim.task}.${mac(key, claim.allocId, claim.task)}`;
}

/** The claim of a well-signed token, undefined otherwise (constant-time signature check). */
export function verifyWorkloadToken(key: Uint8Array, token: string): WorkloadClaim | undefined {
  if (!isWorkloadToken(token)) return undefined;
  const rest = token.slice(PREFIX.length);
  const allocId = rest.slice(0, 36);
  const lastDot = rest.lastIndexOf(".");
  if (rest[36] !== "." || lastDot <= 37) return undefined;
  const task = rest.slice(37, lastDot);
  if (!ALLOC.test(allocId) || !NAME.test(task)) return undefined;
  const given = Buffer.from(rest.slice(lastDot + 1), "base64url");
  const want = Buffer.from(mac(key, allocId, task), "base64url");
  return given.length === want.length && timingSafeEqual(given, want) ? { allocId, task } : undefined;
}

/**
 * The implicit policy of a task (Nomad's): read its job's variables —
 * `jobs/<job>` and everything under `jobs/<job>/` (its groups' and tasks'
 * paths included) — and read services (discovery). Job ids hold no "/", so
 * `jobs/web/` never reaches `jobs/web2`.
 */
export function workloadRules(jobId: string): ParsedRules {
  return {
    rules: [
      { resource: "variable", segment: `jobs/${jobId}`, prefix: false, access: "read" },
      { resource: "variable", segment: `jobs/${jobId}/`, prefix: true, access: "read" },
      { resource: "service", segment: "", prefix: true, access: "read" },
    ],
    unsegmented: {},
  };
}

/** An allocation a workload token may still speak for: wanted running and not finished. */
export function allocIsLive(a: { desiredStatus: string; clientStatus: string }): boolean {
  return a.desiredStatus === "run" && (a.clientStatus === "pending" || a.clientStatus === "running");
}
