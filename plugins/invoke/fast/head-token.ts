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
import type { Picked, RequestHead } from "./http1.ts";

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

/** The caller's token of a request on the HTTP/1.1 listener (undefined: none). */
export function headToken(h: RequestHead): string | undefined {
  // Most requests carry no token at all: said without a closure or a URL
  // (a closure's scope and the lookups' predicates were ~0.4 KB of garbage
  // per request, and garbage sets how often the collector pauses the proxy).
  const p = h.picked;
  let named = false;
  for (let i = 0; i < p.length; i++) {
    const n = p[i]!.name;
    if (n === "x-consul-token" || n === "x-corral-token" || n === "authorization") {
      named = true;
      break;
    }
  }
  if (!named && !h.target.includes("token=") && !h.target.includes("%")) return undefined;
  return tokenOf(h.target, p);
}

function tokenOf(target: string, p: Picked[]): string | undefined {
  return proxyCallerToken(target, (name) => firstField(p, name));
}

/** The first picked field named `name` (as Array.find, without a predicate closure per lookup). */
function firstField(p: Picked[], name: string): string | undefined {
  for (let i = 0; i < p.length; i++) if (p[i]!.name === name) return p[i]!.value;
  return undefined;
}
