// The CLI's HTTP client: CORRAL_ADDR (default http://127.0.0.1:7700) and
// CORRAL_TOKEN, overridable with --addr and --token. Non-2xx answers become
// ClientError with the server's message, so the CLI prints it and exits 1.
import { readFileSync } from "node:fs";

export class ClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The answer's parsed JSON body (e.g. every problem of a refused job document). */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/**
 * What the CLI says when an answer carried X-Consul-Results-Filtered-By-ACLs
 * (set when the token's rules could hide entries of that answer: docs/acl.md):
 * an empty or short list may then mean "not visible to this token", not "none".
 */
export const ACL_FILTERED_NOTE = "ACLs may have hidden some results: the token's rules do not let it read everything this list covers (X-Consul-Results-Filtered-By-ACLs); use a token with read permission to see everything";

// Every response passes through ApiClient.raw, so one observer there sees
// the header whatever command (or library code) made the request.
const aclFilterWatchers = new Set<{ hit: boolean }>();

/** Start noting ACL-filtered answers; seen() tells whether any came since. */
export function watchAclFiltering(): { seen(): boolean; stop(): void } {
  const w = { hit: false };
  aclFilterWatchers.add(w);
  return { seen: () => w.hit, stop: () => aclFilterWatchers.delete(w) };
}

export function noteResponse(res: Response): void {
  if (res.headers.get("x-consul-results-filtered-by-acls") === "true") for (const w of aclFilterWatchers) w.hit = true;
}

export interface ClientOptions {
  addr?: string;
  token?: string;
  env?: Record<string, string | undefined>;
}

export class ApiClient {
  readonly base: string;
  private token?: string;
  /** HTTPS: CORRAL_CACERT (trust), CORRAL_CLIENT_CERT and CORRAL_CLIENT_KEY (for verify_incoming). */
  private tls?: { ca?: string; cert?: string; key?: string };

  constructor(opts: ClientOptions = {}) {
    const env = opts.env ?? process.env;
    const addr = opts.addr ?? env.CORRAL_ADDR ?? "http://127.0.0.1:7700";
    this.base = (/^https?:\/\//.test(addr) ? addr : `http://${addr}`).replace(/\/+$/, "");
    this.token = opts.token ?? env.CORRAL_TOKEN ?? undefined;
    const file = (name: string) => (env[name] ? readFileSync(env[name]!, "utf8") : undefined);
    if (env.CORRAL_CACERT || env.CORRAL_CLIENT_CERT) this.tls = { ca: file("CORRAL_CACERT"), cert: file("CORRAL_CLIENT_CERT"), key: file("CORRAL_CLIENT_KEY") };
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /**
   * `body` is sent as JSON unless `contentType` is given, in which case a
   * string or bytes body is sent as is.
   */
  async request<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    return this.parse<T>(await this.raw(method, path, body, contentType));
  }

  /** A GET with the answer's next-page token (X-Corral-NextToken) of a paged list (core/cli/paged.ts). */
  async getPage<T>(path: string): Promise<{ body: T; nextToken?: string }> {
    const res = await this.raw("GET", path);
    const body = await this.parse<T>(res);
    return { body, nextToken: res.headers.get("x-corral-nexttoken") ?? undefined };
  }

  /** The JSON body of an answer; a ClientError for an error status. */
  private async parse<T>(res: Response): Promise<T> {
    const text = await res.text();
    let data: unknown = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // Non-JSON answers (Consul-style text errors) are passed on as text.
    }
    if (!res.ok) {
      const e = data as { error?: string; code?: string } | string;
      const message = typeof e === "object" && e?.error ? e.error : String(text || res.statusText);
      const code = typeof e === "object" && e?.code ? e.code : `HTTP_${res.status}`;
      throw new ClientError(res.status, code, message, data);
    }
    return data as T;
  }

  /**
   * A WebSocket to `path` (ws:// or wss:// as the address is http or https),
   * with the token as a header and the client's TLS trust (`alloc exec`).
   */
  webSocket(path: string): WebSocket {
    const url = this.base.replace(/^http/, "ws") + path;
    const headers: Record<string, string> = this.token ? { "X-Consul-Token": this.token } : {};
    // Bun's WebSocket takes headers and tls in its second argument.
    return new WebSocket(url, { headers, ...(this.tls ? { tls: this.tls } : {}) } as unknown as string[]);
  }

  /**
   * A JSON request whose answer is read as a stream, for as long as it runs
   * (no time limit: `alloc exec` lasts as long as its command). Errors as
   * request() throws them.
   */
  async stream(method: string, path: string, body: unknown): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.token) headers["X-Consul-Token"] = this.token;
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body: JSON.stringify(body), ...(this.tls ? { tls: this.tls } : {}) } as RequestInit);
    } catch (err) {
      throw new ClientError(0, "UNREACHABLE", `cannot reach corral at ${this.base}: ${(err as Error).message} (set CORRAL_ADDR or --addr)`);
    }
    noteResponse(res);
    if (!res.ok) {
      const text = await res.text();
      let e: { error?: string; code?: string } | undefined;
      try {
        e = JSON.parse(text);
      } catch {}
      throw new ClientError(res.status, e?.code ?? `HTTP_${res.status}`, e?.error ?? (text || res.statusText), e ?? text);
    }
    return res;
  }

  /** The raw response, whatever its status (request() turns errors into ClientError). */
  async raw(method: string, path: string, body?: unknown, contentType?: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers["X-Consul-Token"] = this.token;
    if (body !== undefined) headers["content-type"] = contentType ?? "application/json";
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : contentType ? (body as string | Uint8Array) : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
        ...(this.tls ? { tls: this.tls } : {}),
      } as RequestInit);
    } catch (err) {
      throw new ClientError(0, "UNREACHABLE", `cannot reach corral at ${this.base}: ${(err as Error).message} (set CORRAL_ADDR or --addr)`);
    }
    noteResponse(res);
    return res;
  }
}
