// TLS for the HTTP port and for the calls a node makes to its peers and
// leaders (config [tls]). The server side is Bun.serve's `tls` (node:https
// and Deno.serve take the same PEM strings). The client side is one fetch
// wrapper that every peer and agent call goes through: it trusts ca_file,
// presents this node's own certificate (for leaders with verify_incoming),
// and says which scheme peers are reached with. A node with cert_file or
// ca_file set assumes its whole cluster speaks TLS: there is no per-peer mix.
import { readFileSync } from "node:fs";
import type { TlsConfig } from "../config/types.ts";

export interface ServerTls {
  cert: string;
  key: string;
  ca?: string;
  /** Ask clients for a certificate and refuse those without a valid one (mTLS). */
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/** How this node calls other nodes. */
export interface PeerHttp {
  scheme: "http" | "https";
  fetch: (url: string, init?: RequestInit) => Promise<Response>;
  /** The client TLS options fetch uses (Bun's `tls`), for a WebSocket to a peer. */
  tls?: Record<string, unknown>;
}

export const PLAIN_HTTP: PeerHttp = { scheme: "http", fetch: (url, init) => fetch(url, init) };

function read(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`tls.${what}: cannot read ${path}: ${(err as Error).message}`);
  }
}

export function serverTls(cfg: TlsConfig): ServerTls | undefined {
  if (!cfg.certFile) return undefined;
  return {
    cert: read(cfg.certFile, "cert_file"), key: read(cfg.keyFile, "key_file"),
    ca: cfg.caFile ? read(cfg.caFile, "ca_file") : undefined,
    requestCert: cfg.verifyIncoming, rejectUnauthorized: cfg.verifyIncoming,
  };
}

export function peerHttp(cfg: TlsConfig): PeerHttp {
  if (!cfg.certFile && !cfg.caFile) return PLAIN_HTTP;
  const tls = {
    ...(cfg.caFile ? { ca: read(cfg.caFile, "ca_file") } : {}),
    ...(cfg.certFile ? { cert: read(cfg.certFile, "cert_file"), key: read(cfg.keyFile, "key_file") } : {}),
    rejectUnauthorized: cfg.verifyOutgoing,
  };
  // `tls` is Bun's fetch extension (Deno: a client; Node: an agent); other runtimes get the global trust store.
  return { scheme: "https", tls, fetch: (url, init) => fetch(url, { ...init, tls } as RequestInit) };
}
