// The destination side of the mesh (docs/mesh.md): an mTLS listener on every
// node — on node:tls and node:http, where Bun's own sockets are not
// available (under Bun, fast/mesh-listen.ts serves it with the same
// decisions). A source agent connects with the calling service's leaf; this node
// takes the caller's identity from the certificate's SPIFFE ID — never from
// a header — checks the intention (caller → destination service), then
// forwards to the chosen instance registered on this node.
//
// TLS asks for a client certificate but does not end the handshake without
// one: a caller outside the mesh (no certificate) is judged as "no service
// identity" (intentions from "*" and the ACL default policy), and a
// certificate that does not verify (another CA, expired) gets a clear 403
// instead of a bare handshake failure.
import http from "node:http";
import tls from "node:tls";
import { Readable, type Duplex } from "node:stream";
import { parseSpiffeServiceId, validServiceName, type Logger } from "../../core/sdk/index.ts";
import type { CallDecision } from "./authorize.ts";
import type { LeafPair, MeshIdentity, Trust } from "./mesh-identity.ts";
import type { Endpoint } from "./pool.ts";
import { nowMs, SPAN_KIND_SERVER, type AttributeValue, type SpanSink } from "./spans.ts";
import type { TraceIds } from "./trace.ts";

/** Set by the source agent: which service, and which of its instances (the source balanced). */
export const MESH_SERVICE_HEADER = "x-corral-mesh-service";
export const MESH_INSTANCE_HEADER = "x-corral-mesh-instance";
/** Set here for the instance (Envoy's header): who called, as the certificate says. Never taken from a caller. */
export const XFCC_HEADER = "x-forwarded-client-cert";

/** The service a certificate's SAN names, in this trust domain; undefined when it names none. */
export function peerService(subjectAltName: string | undefined, trustDomain: string): string | undefined {
  for (const part of (subjectAltName ?? "").split(/,\s*/)) {
    if (!part.startsWith("URI:")) continue;
    const id = parseSpiffeServiceId(part.slice(4));
    if (id && id.trustDomain === trustDomain && id.namespace === "default") return id.service;
  }
  return undefined;
}

export type MeshPeer = { kind: "service"; service: string; uri: string } | { kind: "plain" } | { kind: "rejected"; why: string };
type Peer = MeshPeer;

export interface MeshServerDeps {
  bind: string;
  port: number;
  identity: MeshIdentity;
  /** The leaf this node presents as a server. */
  serverLeaf: () => Promise<LeafPair>;
  authorize: (source: string, destination: string) => CallDecision | Promise<CallDecision>;
  /** The instance to call: the one the source chose when it is a passing instance on this node, else undefined. */
  localInstance: (service: string, serviceId: string) => Endpoint | undefined | Promise<Endpoint | undefined>;
  log: Logger;
  /** Counts handshakes and denials (metrics). */
  onHandshake?: (peer: Peer["kind"]) => void;
  onDenied?: (source: string, destination: string) => void;
  /** A TLS handshake that failed (not TLS, no common cipher, our certificate refused by the client). */
  onHandshakeFailed?: () => void;
  /** OTLP export on: this hop renews traceparent and records a SERVER span, child of the source agent's. */
  spans?: { trace: TraceIds; sink: SpanSink };
  /** Serves a connection that negotiated ALPN h2 (h2/mesh-server-h2.ts); absent = HTTP/1.1 only. */
  h2?: (sock: Duplex, peer: MeshPeer) => void;
}

export interface MeshServer {
  address: string;
  port: number;
  /** Takes new roots or a renewed leaf for connections from now on. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

const HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host", MESH_SERVICE_HEADER, MESH_INSTANCE_HEADER, XFCC_HEADER]);

function json(res: http.ServerResponse, status: number, body: Record<string, unknown>): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

export async function startMeshServer(d: MeshServerDeps): Promise<MeshServer> {
  const peers = new WeakMap<object, Peer>();
  let trust: Trust = await d.identity.roots();
  let leaf = await d.serverLeaf();
  const contextOptions = () => ({ cert: leaf.cert, key: leaf.key, ca: trust.ca });

  const app = http.createServer((req, res) => void handle(req, res).catch((err) => {
    d.log.warn("invoke mesh: call failed", { err });
    json(res, 502, { error: `call failed: ${(err as Error)?.message ?? String(err)}`, code: "UPSTREAM_UNAVAILABLE" });
  }));
  // Event streams and long polls pass through: no idle limit of our own (the source agent's timeouts apply).
  app.requestTimeout = 0;
  app.headersTimeout = 60_000;
  // Idle keep-alive connections are kept as long as by the sockets engine's listener (fast/mesh-listen.ts): a
  // source keeps its mesh connections 60 s (fast/mesh-upstream.ts), and Node's own 5 s would make it handshake anew.
  app.keepAliveTimeout = 120_000;

  const server = tls.createServer({ ...contextOptions(), requestCert: true, rejectUnauthorized: false, ALPNProtocols: d.h2 ? ["h2", "http/1.1"] : ["http/1.1"], minVersion: "TLSv1.2" }, (sock) => {
    const cert = sock.getPeerCertificate(false) as { subjectaltname?: string } | undefined;
    let peer: Peer;
    if (!cert || Object.keys(cert).length === 0) peer = { kind: "plain" };
    else if (!sock.authorized) peer = { kind: "rejected", why: String(sock.authorizationError ?? "the certificate does not verify") };
    else {
      const service = peerService(cert.subjectaltname, trust.trustDomain);
      peer = service
        ? { kind: "service", service, uri: `spiffe://${trust.trustDomain}/ns/default/svc/${service}` }
        : { kind: "rejected", why: `the certificate names no service of trust domain ${trust.trustDomain}` };
    }
    peers.set(sock, peer);
    d.onHandshake?.(peer.kind);
    if (d.h2 && sock.alpnProtocol === "h2") return d.h2(sock, peer);
    app.emit("connection", sock);
  });
  server.on("tlsClientError", (err) => {
    d.onHandshakeFailed?.();
    d.log.debug("invoke mesh: TLS handshake failed", { err });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const peer = peers.get(req.socket) ?? { kind: "rejected", why: "unknown connection" };
    if (peer.kind === "rejected") {
      return json(res, 403, { error: `mesh certificate refused: ${peer.why}`, code: "MESH_CERT_REJECTED" });
    }
    // Only a path may follow "http://<instance>": an absolute URL or "@host/..." would name another server.
    const target = req.url ?? "";
    if (!target.startsWith("/")) return json(res, 400, { error: "the request target must be a path (/...)", code: "BAD_REQUEST_TARGET" });
    const destination = String(req.headers[MESH_SERVICE_HEADER] ?? "").toLowerCase();
    if (!validServiceName(destination)) return json(res, 400, { error: `the ${MESH_SERVICE_HEADER} header must name a service`, code: "NO_SERVICE" });
    const source = peer.kind === "service" ? peer.service : "";
    if (d.spans) serverSpan(d.spans, req, res, source, destination);
    const decision = await d.authorize(source, destination);
    if (!decision.allowed) {
      d.onDenied?.(source || "(none)", destination);
      return json(res, 403, { error: `calling "${destination}" is not allowed: ${decision.reason}`, code: "INTENTION_DENIED", reason: decision.reason });
    }
    const ep = (await d.localInstance(destination, String(req.headers[MESH_INSTANCE_HEADER] ?? "")))?.spec;
    if (!ep) return json(res, 503, { error: `no passing instance of "${destination}" on this node`, code: "NO_HEALTHY_INSTANCE" });

    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP.has(k)) continue;
      for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
    }
    if (peer.kind === "service") headers.set(XFCC_HEADER, `URI=${peer.uri}`);
    const hasBody = req.method !== "GET" && req.method !== "HEAD" && (req.headers["content-length"] !== undefined ? req.headers["content-length"] !== "0" : req.headers["transfer-encoding"] !== undefined);
    const host = ep.address.includes(":") ? `[${ep.address}]` : ep.address;
    const ctl = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) ctl.abort();
    });
    const up = await fetch(`http://${host}:${ep.port}${target}`, {
      method: req.method, headers, redirect: "manual", signal: ctl.signal, decompress: false,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: "half" } : {}),
    } as RequestInit);
    const out: Record<string, string | string[]> = {};
    up.headers.forEach((v, k) => {
      if (k === "connection" || k === "keep-alive" || k === "transfer-encoding") return;
      if (k === "set-cookie") return;
      out[k] = v;
    });
    const cookies = up.headers.getSetCookie?.() ?? [];
    if (cookies.length) out["set-cookie"] = cookies;
    res.writeHead(up.status, out);
    if (!up.body) return void res.end();
    for await (const chunk of up.body as unknown as AsyncIterable<Uint8Array>) {
      if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
    }
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(d.port, d.bind, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: d.bind,
    port,
    async refresh() {
      const t = await d.identity.roots();
      const l = await d.serverLeaf();
      if (t.version === trust.version && l === leaf) return;
      trust = t;
      leaf = l;
      server.setSecureContext(contextOptions());
    },
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      app.closeAllConnections?.();
      setTimeout(r, 1000).unref?.();
    }),
  };
}

/**
 * This hop's span (spans.ts): the traceparent from the source agent is
 * replaced by one naming this hop as the parent, and the span, child of the
 * source agent's, is recorded when the answer ends (whatever it is: a
 * denial, no instance, the instance's answer).
 */
function serverSpan(spans: { trace: TraceIds; sink: SpanSink }, req: http.IncomingMessage, res: http.ServerResponse, source: string, destination: string): void {
  const incoming = req.headers.traceparent;
  req.headers.traceparent = spans.trace.next(typeof incoming === "string" ? incoming : null);
  const start = spans.trace.claim();
  if (!start) return; // not sampled
  const method = req.method ?? "GET";
  res.once("close", () => {
    const status = res.statusCode;
    const attributes: Record<string, AttributeValue> = {
      "http.request.method": method, "http.response.status_code": status, "peer.service": destination,
      "corral.mesh.source": source || "(none)",
    };
    const error = !res.writableFinished ? "the answer did not complete" : status >= 500 ? `HTTP ${status}` : undefined;
    if (error) attributes["error.type"] = res.writableFinished ? String(status) : "aborted";
    spans.sink.push({ ...start, name: `${method} ${destination}`, kind: SPAN_KIND_SERVER, endMs: nowMs(), attributes, ...(error ? { error } : {}) });
  });
}
