// The route table's one fast-path mechanism (core/http/fast-route.ts,
// fast-dispatch.ts): a fast path is declared on its route and lives and dies
// with it; the table takes the route's JSON schema, body cap and error
// answers; an unsigned fast path waits while ACLs, audit or rate limits are
// on; and the table refuses a fast path it could not match unambiguously.
// test/cluster/fast-path-corpus.test.ts compares the real ones with their
// routes on a running node.
import { describe, expect, test } from "bun:test";
import { createRoute, z } from "@hono/zod-openapi";
import { createRouteTable } from "../../core/http/app.ts";
import { RpcVerifier } from "../../core/http/middleware/cluster-auth.ts";
import { ApiError } from "../../core/http/errors.ts";
import { fastRoute } from "../../core/http/fast-route.ts";
import { silentLogger } from "../../core/log.ts";
import { ReplicationError } from "../../core/state/replicator.ts";

function table(o: { open?: () => boolean } = {}) {
  const routes = createRouteTable({
    log: silentLogger, version: "t", maxBodyBytes: 1024, appliedIndex: () => 1,
    verifier: new RpcVerifier({ secret: "0123456789abcdef0123", isOurs: () => false }),
    fast: { open: o.open ?? (() => true) },
  });
  const seen: string[] = [];
  routes.add({
    owner: "plug",
    route: createRoute({
      method: "post", path: "/v1/thing/{name}",
      request: { body: { required: true, content: { "application/json": { schema: z.object({ n: z.number().max(9) }).strict() } } } },
      responses: { 200: { description: "ok" } },
    }),
    handler: (c) => {
      seen.push("route");
      if (c.req.param("name") === "timeout") throw new ReplicationError("TIMEOUT", "no quorum in time");
      return c.json({ via: "route", n: (c.req.valid("json" as never) as { n: number }).n });
    },
    fast: fastRoute<string>({
      json: true,
      takes: (_req, rest) => (rest === "skip" ? undefined : rest),
      answer: ({ data, taken }) => {
        seen.push("fast");
        if (taken === "boom") throw new ApiError(409, "CONFLICT", "x".repeat(2000));
        if (taken === "crash") throw new Error("unexpected");
        if (taken === "timeout") throw new ReplicationError("TIMEOUT", "no quorum in time");
        return Response.json({ via: "route", n: (data as { n: number }).n });
      },
    }),
  });
  return { routes, seen };
}

const post = (path: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  new Request("http://node" + path, { method: "POST", body, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) } });

describe("a route's fast path", () => {
  test("answers what it takes with the route's schema and error answers; the rest goes to the route", async () => {
    const { routes, seen } = table();
    expect(await (await routes.fetch(post("/v1/thing/a", '{"n":3}'))).json()).toEqual({ via: "route", n: 3 });
    expect(seen).toEqual(["fast"]);
    // The route's own schema refuses, with the route's message.
    const bad = await routes.fetch(post("/v1/thing/a", '{"n":30}'));
    expect([bad.status, await bad.json()]).toEqual([400, { error: expect.stringMatching(/^n: /), code: "INVALID_INPUT" }]);
    const extra = await routes.fetch(post("/v1/thing/a", '{"n":1,"m":2}'));
    expect(extra.status).toBe(400);
    // Errors as the route table answers them: clipped, or a plain 500.
    const boom = await routes.fetch(post("/v1/thing/boom", '{"n":1}'));
    expect(boom.status).toBe(409);
    expect(((await boom.json()) as { error: string }).error.length).toBe(512);
    expect(await (await routes.fetch(post("/v1/thing/crash", '{"n":1}'))).json()).toEqual({ error: "internal error", code: "INTERNAL" });
    seen.length = 0;
    // Not taken: the route answers.
    await routes.fetch(post("/v1/thing/skip", '{"n":1}'));
    await routes.fetch(post("/v1/thing/a", '{"n":1}', { "content-type": "text/plain" }));
    await routes.fetch(post("/v1/thing/a", "x".repeat(2000)));
    await routes.fetch(new Request("http://node/v1/thing/a", { method: "POST", headers: { "content-type": "application/json" }, body: new ReadableStream({ start: (c) => { c.enqueue(new TextEncoder().encode('{"n":1}')); c.close(); } }) }));
    expect(seen).toEqual(["route", "route"]); // the text/plain and oversized bodies are refused before the handler
    seen.length = 0;
    await routes.fetchRoute(post("/v1/thing/a", '{"n":1}'));
    expect(seen).toEqual(["route"]);
  });

  test("a write refused by replication answers its status on both paths, never 500", async () => {
    // A handler that proposes without mapping the refusal itself (a heartbeat waking a down node did,
    // and answered 500 by the thousand when a loaded leader's proposals timed out).
    for (const open of [true, false]) {
      const { routes, seen } = table({ open: () => open });
      const r = await routes.fetch(post("/v1/thing/timeout", '{"n":1}'));
      expect([r.status, r.headers.get("x-corral-outcome"), await r.json()]).toEqual([504, "unknown", { error: "no quorum in time", code: "TIMEOUT" }]);
      expect(seen).toEqual([open ? "fast" : "route"]);
    }
  });

  test("goes with its route, and is marked in the OpenAPI document", async () => {
    const { routes, seen } = table();
    const doc = routes.openApiDocument() as { paths: Record<string, { post: Record<string, unknown> }> };
    expect(doc.paths["/v1/thing/{name}"]!.post["x-corral-fast-path"]).toBe(true);
    routes.removeOwner("plug");
    expect((await routes.fetch(post("/v1/thing/a", '{"n":1}'))).status).toBe(404);
    expect(seen).toEqual([]);
  });

  test("an unsigned fast path is not taken while ACLs, audit or rate limits are on", async () => {
    let open = false;
    const { routes, seen } = table({ open: () => open });
    await routes.fetch(post("/v1/thing/a", '{"n":1}'));
    open = true;
    await routes.fetch(post("/v1/thing/a", '{"n":1}'));
    expect(seen).toEqual(["route", "fast"]);
  });

  test("the table refuses a fast path on a path it cannot match by prefix", () => {
    const { routes } = table();
    for (const path of ["/v1/a/{x}/{y}", "/v1/a/{x{.*}}/b", "/v1/a/x{y}", "/v1/a/{x}/b/"]) {
      expect(() => routes.add({
        owner: "core",
        route: createRoute({ method: "get", path, responses: { 200: { description: "ok" } } }),
        handler: (c) => c.json({}),
        fast: fastRoute({ answer: () => new Response(null) }),
      })).toThrow(/one trailing parameter/);
    }
    // Refused before it was kept: the table still works.
    expect(routes.list().length).toBe(1);
  });

  test("a parameter between a literal prefix and suffix: one segment, as hono matches it", async () => {
    const { routes } = table();
    const rests: string[] = [];
    routes.add({
      owner: "core",
      route: createRoute({ method: "get", path: "/v1/a/{x}/b", responses: { 200: { description: "ok" } } }),
      handler: (c) => c.json({ via: "route" }),
      fast: fastRoute<string>({ takes: (_req, rest) => rest, answer: ({ taken }) => (rests.push(taken), Response.json({ via: "fast" })) }),
    });
    const via = async (path: string) => (await (await routes.fetch(new Request("http://node" + path))).json().catch(() => ({}))) as { via?: string };
    expect(await via("/v1/a/one/b")).toEqual({ via: "fast" });
    expect(await via("/v1/a/one/b?q=1")).toEqual({ via: "fast" });
    // Not one segment, or another path under the prefix: never the fast path.
    for (const path of ["/v1/a/one/two/b", "/v1/a//b", "/v1/a/b", "/v1/a/one/b/", "/v1/a/one/bb", "/v1/a/one"]) expect([path, (await via(path)).via]).not.toEqual([path, "fast"]);
    expect(rests).toEqual(["one", "one"]);
  });
});
