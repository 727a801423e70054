// The caller's token in a request head, read exactly as the API's ACL
// middleware reads it (core/acl/secret.ts requestToken: `?token=`, then
// X-Consul-Token, X-Corral-Token, then `Authorization: Bearer`), so a task
// is the same caller on the proxy listener as on the API — the mesh takes
// its identity from it.
import { requestToken } from "../../../core/sdk/index.ts";
import type { RequestHead } from "./http1.ts";

export function headToken(h: RequestHead): string | undefined {
  // Parsing the target as a URL only when it may carry the parameter.
  const url = h.target.includes("token=") ? (h.target[0] === "/" ? `http://x${h.target}` : h.target) : "http://x/";
  let token: string;
  try {
    token = requestToken(url, (name) => h.picked.find((f) => f.name === name)?.value);
  } catch {
    token = requestToken("http://x/", (name) => h.picked.find((f) => f.name === name)?.value); // a target no URL parser takes: no ?token=
  }
  return token || undefined;
}
