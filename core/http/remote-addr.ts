// The client's address, from what the server put in hono's c.env: the Bun
// server (requestIP), @hono/node-server's { incoming }, or nothing (tests
// calling app.request(), Deno). "" when unknown.
import type { Context } from "hono";

export function remoteAddress(c: Context): string {
  return remoteOf(c.req.raw, c.env);
}

/** The same from a request and the server's env, for code that runs before the route table (the browser guard's refusals). */
export function remoteOf(req: Request, envIn: unknown): string {
  const env = envIn as
    | { requestIP?: (r: Request) => { address: string } | null; incoming?: { socket?: { remoteAddress?: string } } }
    | undefined;
  try {
    if (env && typeof env.requestIP === "function") return env.requestIP(req)?.address ?? "";
    return env?.incoming?.socket?.remoteAddress ?? "";
  } catch {
    return "";
  }
}
