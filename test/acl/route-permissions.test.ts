// Every route of a node with every built-in plugin on must declare the
// permission it needs (core/acl/route-permissions.ts, or { permission } at
// ctx.route). A new route without one fails here, by name. Only /v1/healthz
// and the ACL bootstrap may need nothing.
import { afterAll, describe, expect, test } from "bun:test";
import { killAll, startCorral, getJson } from "../helpers/proc.ts";
import { OPEN_ROUTES, permissionFor, ROUTE_PERMISSIONS } from "../../core/acl/route-permissions.ts";
import { builtinPlugins } from "../../core/plugins/builtin.ts";

afterAll(() => killAll());

describe("route permissions", () => {
  test("the live route table of a dev node with every plugin on: each route declares a permission", async () => {
    const node = await startCorral({ role: "dev" });
    const plugins = (await getJson(node.url + "/v1/plugins")).body as { name: string; state: string }[];
    const builtins = builtinPlugins().map((p) => p.name).sort();
    expect(plugins.filter((p) => p.state === "enabled").map((p) => p.name).sort()).toEqual(builtins);

    const routes = (await getJson(node.url + "/v1/operator/routes")).body as { method: string; path: string; owner: string; hidden: boolean; permission: string | null }[];
    const undeclared = routes
      .filter((r) => r.permission === null)
      .map((r) => `${r.method} ${r.path} (owner ${r.owner}) declares no permission: add it to core/acl/route-permissions.ts or pass { permission } to ctx.route`);
    expect(undeclared).toEqual([]);

    const open = routes.filter((r) => r.permission === "none").map((r) => `${r.method} ${r.path}`);
    expect(open.filter((r) => !OPEN_ROUTES.has(r))).toEqual([]);

    // The listing covers the OpenAPI document (and adds the hidden 405 routes).
    const doc = (await getJson(node.url + "/v1/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
    const listed = new Set(routes.map((r) => `${r.method} ${r.path.replace(/\{(\w+)\{[^}]*\}\}/g, "{$1}")}`));
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) expect(listed.has(`${method.toUpperCase()} ${path}`), `${method} ${path}`).toBe(true);
    }
    expect(routes.some((r) => r.hidden)).toBe(true);
    await node.kill();
  });
});

describe("permissionFor", () => {
  const route = (method: string, path: string, hide = false) => ({ route: { method, path, hide } });

  test("an explicit permission beats the table", () => {
    const e = { ...route("get", "/v1/nodes"), permission: "none" as const };
    expect(permissionFor(e, [e])).toBe("none");
  });

  test("the table: exact paths, method lists and prefixes", () => {
    expect(permissionFor(route("get", "/v1/healthz"), [])).toBe("none");
    expect(permissionFor(route("post", "/v1/raft/message"), [])).toBe("peer");
    expect(permissionFor(route("post", "/v1/cluster/anything-new"), [])).toBe("peer");
    expect(permissionFor(route("put", "/v1/invoke-config/{service}"), [])).toMatchObject({ resource: "service", access: "write" });
    expect(permissionFor(route("get", "/v1/not-declared"), [])).toBeUndefined();
  });

  test("a hidden 405 route takes the visible route's permission, without the list filter", () => {
    const visible = route("get", "/v1/catalog/services");
    const hidden = route("put", "/v1/catalog/services", true);
    const p = permissionFor(hidden, [visible, hidden]);
    expect(p).toMatchObject({ resource: "service", access: "read" });
    expect((p as { filter?: unknown }).filter).toBeUndefined();
    expect(permissionFor(route("put", "/v1/orphan", true), [])).toBeUndefined();
  });

  test("table entries are unique", () => {
    const keys = ROUTE_PERMISSIONS.flatMap(([m, p]) => m.split(",").map((x) => `${x} ${p}`));
    expect(new Set(keys).size).toBe(keys.length);
  });
});
