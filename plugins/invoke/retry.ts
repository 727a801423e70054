// When a failed attempt may be sent again, and how long to wait first.
//
// - A refused connection never reached the instance: any method may be sent
//   again (the body permitting); so may a call the instance cannot speak
//   (HTTP/2 to an HTTP/1.1-only instance).
// - A reset, a timeout or a 502/503/504 may have been processed: only
//   methods listed in retry_methods (by default RFC 9110's idempotent ones,
//   PUT and DELETE included: sending them twice has the effect of once).
// - A body that was streamed cannot be sent again, so such a call gets
//   exactly one attempt (small bodies are buffered for this; see config).

/**
 * "protocol": the instance answered the connection, but not in the protocol
 * the call needs (an HTTP/2 call to an HTTP/1.1-only instance). Nothing was
 * sent, and it is not the instance's fault: no breaker failure.
 */
export type FailureKind = "refused" | "reset" | "timeout" | "status" | "aborted" | "protocol" | "other";

/** Full jitter (AWS "Exponential Backoff and Jitter"): uniform in [0, min(max, base * 2^(retry-1))]. */
export function backoffMs(retry: number, baseMs: number, maxMs: number, rng: () => number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(rng() * cap);
}

const REFUSED = new Set(["ECONNREFUSED", "ConnectionRefused", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "FailedToOpenSocket"]);
const RESET = new Set(["ECONNRESET", "ConnectionClosed", "EPIPE", "UND_ERR_SOCKET", "ECONNABORTED"]);

/** Maps a fetch rejection to a kind. Timeouts and client aborts are known to the caller, who passes them in. */
export function classifyError(err: unknown): FailureKind {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string") {
    if (REFUSED.has(code)) return "refused";
    if (RESET.has(code)) return "reset";
  }
  const cause = (err as { cause?: { code?: unknown } })?.cause;
  if (cause && cause !== err) return classifyError(cause);
  return "other";
}

export interface RetryRules {
  /** Upper-case method names. */
  methods: ReadonlySet<string>;
}

/** May an attempt that failed this way be sent again? (Attempts left and the budget are checked by the caller.) */
export function retryable(kind: FailureKind, method: string, replayable: boolean, rules: RetryRules): boolean {
  if (!replayable || kind === "aborted") return false;
  if (kind === "refused" || kind === "protocol") return true;
  return rules.methods.has(method);
}
