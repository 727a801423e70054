// The caller's token in a request head, read exactly as the API's ACL
// middleware reads it (core/acl/secret.ts requestToken: `?token=`, then
// X-Consul-Token, X-Corral-Token, then `Authorization: Bearer`), so a task
// is the same caller on the proxy listener as on the API — the mesh takes
// its identity from it.
import { headerToken, requestToken } from "../../../core/sdk/index.ts";
import type { RequestHead } from "./http1.ts";

export function headToken(h: RequestHead): string | undefined {
  const header = (name: string) => h.picked.find((f) => f.name === name)?.value;
  // Parsing the target as a URL only when it may carry the parameter (`token=` appears in any target whose query has it).
  if (!h.target.includes("token=")) return headerToken(header) || undefined;
  const url = h.target[0] === "/" ? `http://x${h.target}` : h.target;
  let token: string;
  try {
    token = requestToken(url, header);
  } catch {
    token = headerToken(header); // a target no URL parser takes: no ?token=
  }
  return token || undefined;
}
