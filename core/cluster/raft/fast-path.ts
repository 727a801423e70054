// Raft messages before the route table. Every replicated write costs each
// follower one or two peer messages and the leader as many answers, so
// POST /v1/raft/message is the busiest route of a loaded cluster. This
// answers it with the same checks as the route (size bound, HMAC signature,
// message shape) without hono's context, middleware chain and zod validator.
// The route in core/api/raft.ts stays the reference and the OpenAPI entry;
// anything this does not take (wrong method, no length, a signature header
// that fails before the body is read) goes there, and so does a request
// whose MAC fails once read: the route table refuses (401) and audits it.
import { SIGNATURE_HEADER, type RpcVerifier } from "../../http/middleware/cluster-auth.ts";
import type { Message } from "../../raft/index.ts";
import { RAFT_MESSAGE_PATH } from "./transport.ts";
import { pathAndQueryOf, pathOf } from "../../http/path-of.ts";

export interface RaftFastPathDeps {
  verifier: RpcVerifier;
  maxMessageBytes: number;
  step(messages: Message[]): void;
  /** The route table: refusals go there, to be answered and audited as any request. */
  fallback: (req: Request, env: unknown, original: Request) => Response | Promise<Response>;
}

const error = (status: number, code: string, message: string) => Response.json({ error: message, code }, { status });

function isMessage(m: unknown): m is Message {
  if (!m || typeof m !== "object") return false;
  const o = m as Record<string, unknown>;
  return typeof o.type === "string" && typeof o.from === "string" && typeof o.to === "string" && Number.isInteger(o.term) && (o.term as number) >= 0;
}

export function raftFastPath(d: RaftFastPathDeps): (req: Request, env?: unknown) => Promise<Response> | undefined {
  return (req, env) => {
    if (req.method !== "POST" || pathOf(req.url) !== RAFT_MESSAGE_PATH) return undefined;
    const length = Number(req.headers.get("content-length") ?? NaN);
    if (!Number.isFinite(length) || length > d.maxMessageBytes) return undefined;
    // Header, MAC, freshness and nonce before the body, and the signed length
    // must be the declared one: anything else goes to the route table unread.
    const pre = d.verifier.precheck(req.headers.get(SIGNATURE_HEADER), "POST", pathAndQueryOf(req.url), req.headers.get("host"));
    // (A v1 signature, legacy mode, announces no length: the content-length bound above is its cap.)
    if (!pre.ok || (pre.header.length !== undefined && pre.header.length !== length)) return undefined;
    return answer(d, req, env);
  };
}

async function answer(d: RaftFastPathDeps, req: Request, env: unknown): Promise<Response> {
  const body = new Uint8Array(await req.arrayBuffer());
  if (!d.verifier.verify(req.headers.get(SIGNATURE_HEADER), "POST", pathAndQueryOf(req.url), req.headers.get("host"), body).ok) {
    // Same bytes to the route table, which refuses (401) and audits.
    return d.fallback(new Request(req.url, { method: "POST", headers: req.headers, body }), env, req);
  }
  let batch: { messages?: unknown };
  try {
    batch = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return error(400, "INVALID_INPUT", "body is not JSON");
  }
  const messages = batch?.messages;
  if (!Array.isArray(messages) || messages.length > 100_000 || !messages.every(isMessage)) {
    return error(400, "INVALID_INPUT", "messages: expected an array of Raft messages");
  }
  d.step(messages);
  return new Response(null, { status: 204 });
}
