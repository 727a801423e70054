// Raft messages before the route table. Every replicated write costs each
// follower one or two peer messages and the leader as many answers, so
// POST /v1/raft/message is the busiest route of a loaded cluster. This
// answers it with the same checks as the route (size bound, HMAC signature,
// message shape) without hono's context, middleware chain and zod validator.
// The route in core/api/raft.ts stays the reference and the OpenAPI entry;
// anything this does not take (wrong method, no length) goes there.
import { verifySignature, SIGNATURE_HEADER } from "../../http/middleware/cluster-auth.ts";
import type { Message } from "../../raft/index.ts";
import { RAFT_MESSAGE_PATH } from "./transport.ts";
import { pathOf } from "../../http/path-of.ts";

export interface RaftFastPathDeps {
  secret: string;
  maxMessageBytes: number;
  step(messages: Message[]): void;
}

const error = (status: number, code: string, message: string) => Response.json({ error: message, code }, { status });

function isMessage(m: unknown): m is Message {
  if (!m || typeof m !== "object") return false;
  const o = m as Record<string, unknown>;
  return typeof o.type === "string" && typeof o.from === "string" && typeof o.to === "string" && Number.isInteger(o.term) && (o.term as number) >= 0;
}

export function raftFastPath(d: RaftFastPathDeps): (req: Request) => Promise<Response> | undefined {
  return (req) => {
    if (req.method !== "POST" || pathOf(req.url) !== RAFT_MESSAGE_PATH) return undefined;
    const length = Number(req.headers.get("content-length") ?? NaN);
    if (!Number.isFinite(length) || length > d.maxMessageBytes) return undefined;
    return answer(d, req);
  };
}

async function answer(d: RaftFastPathDeps, req: Request): Promise<Response> {
  const body = new Uint8Array(await req.arrayBuffer());
  if (!verifySignature(d.secret, req.headers.get(SIGNATURE_HEADER), "POST", RAFT_MESSAGE_PATH, body)) {
    return error(401, "UNAUTHORIZED", "missing or invalid cluster signature (check cluster.secret)");
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
