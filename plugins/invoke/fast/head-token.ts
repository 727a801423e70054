// The caller's token on the proxy listener (HTTP/1.1 and h2 alike), read as
// the API's ACL middleware reads it (core/acl/secret.ts requestToken:
// `?token=` however its name is percent-encoded, then X-Consul-Token,
// X-Corral-Token, then `Authorization: Bearer`), so a task is the same caller
// on the proxy listener as on the API — admission (intentions) and the mesh
// take its identity from it. One difference, on purpose: on the listener
// `Authorization` is shared with the backends (their own bearer tokens), so
// it names the caller only when it holds a corral-shaped secret, the same
// rule by which credentials.ts strips it; any other bearer passes to the
// backend and leaves the caller anonymous.
import { headerToken, requestToken } from "../../../core/sdk/index.ts";
import { isCorralBearer } from "../credentials.ts";
import type { RequestHead } from "./http1.ts";

/** The caller's corral token for a request target (path and query, or absolute) and its fields. */
export function proxyCallerToken(target: string, field: (name: string) => string | undefined): string | undefined {
  const header = (name: string): string | undefined => {
    const v = field(name);
    return name === "authorization" && v !== undefined && !isCorralBearer(v) ? undefined : v;
  };
  // Parsing the target as a URL only when it may carry the parameter: `token=`
  // appears in any target whose query has it, unless the name is
  // percent-encoded (`%74oken=`, `tok%65n=`: URLSearchParams decodes both to
  // "token"), and then `%` appears.
  if (!target.includes("token=") && !target.includes("%")) return headerToken(header) || undefined;
  const url = target[0] === "/" ? `http://x${target}` : target;
  let token: string;
  try {
    token = requestToken(url, header);
  } catch {
    token = headerToken(header); // a target no URL parser takes: no ?token=
  }
  return token || undefined;
}

export function headToken(h: RequestHead): string | undefined {
  return proxyCallerToken(h.target, (name) => h.picked.find((f) => f.name === name)?.value);
}
