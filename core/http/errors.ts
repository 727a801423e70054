// Typed API errors. Handlers throw ApiError (or return error values that the
// route converts); the one error handler in app.ts turns them into
// { "error": "...", "code": "..." } with the status.
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * A global brand rather than class identity: an external plugin bundles its
 * own copy of the SDK, so its ApiError is another class, and `instanceof`
 * alone would turn its 404 into a 500 in the route table's error handler.
 */
const API_ERROR = Symbol.for("corral.ApiError");

export class ApiError extends Error {
  readonly [API_ERROR] = true;

  static override [Symbol.hasInstance](this: unknown, value: unknown): boolean {
    // Subclasses (JobSpecError …) inherit this method: they keep the plain
    // prototype check, so only `instanceof ApiError` itself looks at the brand.
    if (this !== ApiError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[API_ERROR] === true;
  }

  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** "text": a plain-text body, as Consul answers (node-consul shows it as the message). */
    readonly format: "json" | "text" = "json",
  ) {
    super(message);
  }
}

/** An error on a Consul-compatible route: status and a short text/plain body. */
export function consulError(status: ContentfulStatusCode, message: string, headers: Record<string, string> = {}): ApiError {
  return new ApiError(status, "CONSUL_" + status, message, headers, "text");
}

/** nginx's status for a request its client closed before the answer: in metrics and audit only, no one receives it. */
export const CLIENT_CLOSED = 499;

export const badRequest = (message: string, code = "INVALID_INPUT") => new ApiError(400, code, message);
export const notFound = (message: string, code = "NOT_FOUND") => new ApiError(404, code, message);
export const unauthorized = (message: string) => new ApiError(401, "UNAUTHORIZED", message);
export const conflict = (message: string, code = "CONFLICT") => new ApiError(409, code, message);

/** Maps a command refusal code from an applier to an HTTP status. */
export function statusForCode(code: string): ContentfulStatusCode {
  if (code.endsWith("_NOT_FOUND")) return 404;
  if (code.endsWith("_TAKEN") || code === "CONFLICT" || code === "CAS_FAILED" || code === "LAUNCH_EXISTS" || code === "INDEX_MISMATCH") return 409;
  if (code === "NOT_LEADER" || code === "SHUTTING_DOWN" || code === "NO_LEADER" || code === "STORAGE_FAILED") return 503;
  if (code === "TIMEOUT") return 504;
  if (code === "PERMISSION_DENIED") return 403;
  return 400;
}

/** Tells a client whether a failed write may have been applied: "not-applied" or "unknown". */
export const OUTCOME_HEADER = "X-Corral-Outcome";

/**
 * A replication refusal (core/state/replicator.ts ReplicationError) as an API
 * error: its status (503 NOT_LEADER, 504 TIMEOUT...), the leader when known,
 * and the write's outcome in X-Corral-Outcome.
 */
export function replicationApiError(err: { code: string; message: string; leader?: string; outcome?: string }): ApiError {
  const headers: Record<string, string> = err.outcome ? { [OUTCOME_HEADER]: err.outcome } : {};
  return new ApiError(statusForCode(err.code), err.code, err.message + (err.leader ? ` (leader: ${err.leader})` : ""), headers);
}
