// `[plugins.discovery] hide_check_output`: a check's Output is what its
// probe saw — an excerpt of the service's own health page, a script's
// output — and may say more about the service than its status does. With
// this on (and ACLs on), a reader sees Output only for checks it could
// write: service:write on the check's service, node:write on the node for
// node-level checks; for the others Output is "". Applied to the answer on
// the node that received the client's request (where the token was
// resolved), so reads an agent forwarded to a leader are covered too.
import type { Context } from "hono";
import { type Authorizer, requestIdentity } from "../../core/sdk/index.ts";

type CheckLike = { CheckID: unknown; Output: unknown; ServiceName?: unknown; Node?: unknown };

function isCheck(v: Record<string, unknown>): v is CheckLike & Record<string, unknown> {
  return typeof v.CheckID === "string" && typeof v.Output === "string";
}

/**
 * Blanks the Output of every check (an object with CheckID and Output) in a
 * JSON answer that `mayRead` refuses, in place, down to `depth` levels
 * (lists of checks, maps of checks, service entries with Checks). Pure.
 */
export function blankCheckOutputs(body: unknown, mayRead: (check: { service: string; node: string }) => boolean, depth = 4): number {
  if (depth < 0 || typeof body !== "object" || body === null) return 0;
  let blanked = 0;
  const values = Array.isArray(body) ? body : Object.values(body);
  if (!Array.isArray(body) && isCheck(body as Record<string, unknown>)) {
    const c = body as CheckLike;
    if (c.Output !== "" && !mayRead({ service: typeof c.ServiceName === "string" ? c.ServiceName : "", node: typeof c.Node === "string" ? c.Node : "" })) {
      c.Output = "";
      return 1;
    }
    return 0;
  }
  for (const v of values) blanked += blankCheckOutputs(v, mayRead, depth - 1);
  return blanked;
}

/** Who may read a check's Output when it is hidden from mere readers. */
export function outputReader(authz: Authorizer): (check: { service: string; node: string }) => boolean {
  return (c) => (c.service ? authz.allowed("service", c.service, "write") : authz.allowed("node", c.node, "write"));
}

/** Post-processes a JSON answer carrying checks: blanks the Outputs the request's token may not see. */
export async function hideCheckOutputs(c: Context, res: Response, enabled: boolean): Promise<Response> {
  if (!enabled || res.status !== 200 || !(res.headers.get("content-type") ?? "").includes("json")) return res;
  const identity = requestIdentity(c);
  if (!identity) return res; // ACLs off, or a request another node signed: that node applies this
  let body: unknown;
  try {
    body = await res.clone().json();
  } catch {
    return res;
  }
  if (blankCheckOutputs(body, outputReader(identity.authz)) === 0) return res;
  const headers = new Headers(res.headers);
  headers.delete("content-length");
  return new Response(JSON.stringify(body), { status: res.status, headers });
}
