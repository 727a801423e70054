// Telling a request that never left from one that may have been processed.
// A fetch that failed while connecting (refused, no route) sent no byte: the
// peer cannot have acted on it, so a write forwarded that way was certainly
// not applied. A reset, a timeout or a closed connection after connecting
// may have delivered it. (The invoke plugin's retry rules draw the same line,
// plugins/invoke/retry.ts.)
const NEVER_CONNECTED = new Set(["ECONNREFUSED", "ConnectionRefused", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "FailedToOpenSocket"]);

/** True when a fetch rejection means the connection was never made. */
export function failedBeforeSending(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NEVER_CONNECTED.has(code)) return true;
  }
  return false;
}
