// A stand-in OTLP/HTTP collector for tests: a real HTTP server taking
// POST /v1/traces in the JSON encoding, keeping every span it accepted, and
// answering with scripted statuses first (a collector under load: 503, 429).
export interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status: { code?: number; message?: string };
  /** From the enclosing ResourceSpans / ScopeSpans. */
  resource: Record<string, unknown>;
  scope: { name: string; version?: string };
}

export interface Collector {
  url: string;
  spans: CollectedSpan[];
  /** Requests received, whatever was answered. */
  requests: { status: number; headers: Headers; spanCount: number }[];
  /** The next answers, in order; afterwards 200. */
  script(statuses: number[]): void;
  stop(): void;
}

/** An attribute list as a plain object (intValue strings as numbers). */
export function attrs(list: { key: string; value: Record<string, unknown> }[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list) {
    const v = "intValue" in value ? Number(value.intValue) : Object.values(value)[0];
    out[key] = v;
  }
  return out;
}

export function startCollector(): Collector {
  const spans: CollectedSpan[] = [];
  const requests: Collector["requests"] = [];
  let scripted: number[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/v1/traces") return new Response("not found", { status: 404 });
      const body = (await req.json()) as { resourceSpans: { resource: { attributes: CollectedSpan["attributes"] }; scopeSpans: { scope: CollectedSpan["scope"]; spans: Omit<CollectedSpan, "resource" | "scope">[] }[] }[] };
      let count = 0;
      const got: CollectedSpan[] = [];
      for (const rs of body.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            count++;
            got.push({ ...s, resource: attrs(rs.resource.attributes), scope: ss.scope });
          }
        }
      }
      const status = scripted.shift() ?? 200;
      requests.push({ status, headers: req.headers, spanCount: count });
      if (status !== 200) return new Response("busy", { status, headers: status === 429 ? { "retry-after": "0" } : {} });
      if (req.headers.get("content-type") !== "application/json") return new Response("bad type", { status: 415 });
      spans.push(...got);
      return Response.json({});
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/v1/traces`,
    spans,
    requests,
    script: (s) => void (scripted = [...s]),
    stop: () => server.stop(true),
  };
}
