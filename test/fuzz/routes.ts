// The live route table of a running node, for the fuzzer and the adversarial
// suite (test/security/): every route `/v1/operator/routes` lists (the hidden
// 405 routes included, with their declared permission), joined with what
// `/v1/openapi.json` documents about it (query parameters, top-level JSON
// body keys, whether the body is JSON). Walking this list, rather than a
// hand-written one, is what makes a new route covered without anyone
// remembering to add it.
import { getJson } from "../helpers/proc.ts";
import type { FuzzRoute } from "./gen.ts";

export interface LiveRoute extends FuzzRoute {
  /** "none", "peer", "authenticated", "key:read (filtered list)", ... as /v1/operator/routes shows it. */
  permission: string | null;
  hidden: boolean;
  /** The OpenAPI document gives the route an application/json request body. */
  jsonBody: boolean;
}

/** Every route of the node at `base`; `token` is needed when ACLs are on with default deny (operator:read). */
export async function listRoutes(base: string, token?: string): Promise<LiveRoute[]> {
  const headers: Record<string, string> = token ? { "X-Consul-Token": token } : {};
  const docRes = await getJson(base + "/v1/openapi.json", { headers });
  const listRes = await getJson(base + "/v1/operator/routes", { headers });
  if (docRes.status !== 200 || listRes.status !== 200) throw new Error(`cannot list routes: openapi ${docRes.status}, routes ${listRes.status}`);
  const doc = docRes.body as { paths: Record<string, Record<string, any>>; components?: { schemas?: Record<string, any> } };
  const resolve = (s: any) => (s?.$ref ? doc.components?.schemas?.[String(s.$ref).split("/").pop()!] : s);
  const documented = new Map<string, { query: string[]; bodyKeys: string[]; jsonBody: boolean }>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const query = (op.parameters ?? []).filter((p: any) => p.in === "query").map((p: any) => p.name as string);
      const json = op.requestBody?.content?.["application/json"];
      const schema = resolve(json?.schema);
      documented.set(`${method.toUpperCase()} ${path}`, { query, bodyKeys: Object.keys(schema?.properties ?? {}), jsonBody: json !== undefined });
    }
  }
  const listed = listRes.body as { method: string; path: string; hidden: boolean; permission: string | null }[];
  return listed.map((r) => {
    const d = documented.get(`${r.method} ${r.path.replace(/\{(\w+)\{[^}]*\}\}/g, "{$1}")}`);
    return {
      method: r.method, path: r.path, query: d?.query ?? [], bodyKeys: d?.bodyKeys ?? [],
      permission: r.permission, hidden: r.hidden, jsonBody: d?.jsonBody ?? false,
    };
  });
}

/** The names of a route pattern's parameters, in order: "/v1/invoke/{service}/{path{.*}}" → ["service", "path"]. */
export function paramNames(pattern: string): string[] {
  return [...pattern.matchAll(/\{(\w+)(\{[^}]*\})?\}/g)].map((m) => m[1]!);
}

/** A concrete path: each parameter replaced by its value (already escaped as the caller wants it). */
export function fillParams(pattern: string, values: Record<string, string>): string {
  return pattern.replace(/\{(\w+)(\{[^}]*\})?\}/g, (_m, name: string) => values[name] ?? "x");
}
