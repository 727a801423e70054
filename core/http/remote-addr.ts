// The client's address, from what the server put in hono's c.env: the Bun
// server (requestIP), @hono/node-server's { incoming }, or nothing (tests
// calling app.request(), Deno). "" when unknown.
import type { Context } from "hono";

export function remoteAddress(c: Context): string {
  const env = c.env as
    | { requestIP?: (r: Request) => { address: string } | null; incoming?: { socket?: { remoteAddress?: string } } }
    | undefined;
  try {
    if (env && typeof env.requestIP === "function") return env.requestIP(c.req.raw)?.address ?? "";
    return env?.incoming?.socket?.remoteAddress ?? "";
  } catch {
    return "";
  }
}
