// One wording for "this listener could not bind", used by every listener a
// node opens (the HTTP API, the DNS server's UDP and TCP sockets, the invoke
// proxy): what, the address and port, why in words, and which setting moves it.
// Runtimes word these failures differently (Bun: "Failed to listen at
// 127.0.0.1", no port at all); the errno code is what they share.

export class BindError extends Error {
  constructor(
    /** "http", "dns", "invoke": who was listening. */
    readonly listener: string,
    readonly address: string,
    readonly port: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = "BindError";
  }
}

/** "127.0.0.1:7700", "[::1]:7700". */
export function hostPort(address: string, port: number): string {
  return `${address.includes(":") ? `[${address}]` : address}:${port}`;
}

export interface BindErrorOptions {
  /** e.g. "dns" */
  listener: string;
  address: string;
  port: number;
  /** Appended to the address, e.g. "/udp". */
  suffix?: string;
  /** How to move it, e.g. "set [plugins.dns] port or --dns-port". */
  portHint: string;
  /** How to change the address, e.g. "check [plugins.dns] bind". */
  bindHint: string;
}

/** A BindError for `err` (anything a runtime's listen threw or emitted). */
export function bindError(err: unknown, o: BindErrorOptions): BindError {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === "string" ? e.code : typeof err === "string" && /^E[A-Z]+$/.test(err) ? err : undefined;
  const why =
    code === "EADDRINUSE"
      ? `address already in use (EADDRINUSE); ${o.portHint}, or stop what holds it`
      : code === "EACCES"
        ? "permission denied (EACCES); ports below 1024 need root or CAP_NET_BIND_SERVICE"
        : code === "EADDRNOTAVAIL"
          ? `address not available on this host (EADDRNOTAVAIL); ${o.bindHint}`
          : String(e?.message ?? err);
  return new BindError(o.listener, o.address, o.port, code, `${o.listener}: cannot listen on ${hostPort(o.address, o.port)}${o.suffix ?? ""}: ${why}`);
}
