// The ui plugin without a browser: how its assets are made (bundled from
// source on demand, or embedded by the build), what its routes answer, and
// the session endpoint the page asks before it draws a button.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TOPICS } from "../../core/state/events.ts";
import { APP_DIR, assetLoader, bundleUi, fromSource, hashOf, writeGeneratedAssets } from "../../plugins/ui/assets.ts";
import { pageRoutes } from "../../plugins/ui/routes.ts";
import { parseCheck } from "../../plugins/ui/session.ts";
import { uiConfigSchema } from "../../plugins/ui/config.ts";
import { ApiError } from "../../core/http/errors.ts";
import { getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";

describe("assets", () => {
  test("a checkout bundles app/ in-process; the bundle loads nothing from elsewhere", async () => {
    expect(fromSource()).toBe(true);
    const a = await bundleUi({ release: true });
    expect(a.js.length).toBeGreaterThan(10_000);
    expect(a.css).toContain("prefers-color-scheme");
    expect(a.hash).toBe(hashOf(a.js, a.css));
    // The only absolute URL in the app is the SVG namespace name (an identifier, never fetched).
    const urls = [...`${a.js}\n${a.css}`.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi)].map((m) => m[0]);
    expect(urls.filter((u) => u !== "http://www.w3.org/2000/svg")).toEqual([]);
    expect(a.css).not.toMatch(/@import|url\(\s*["']?(https?:)?\/\//);
  }, 30_000);

  test("the build writes a module that carries the same bundle", async () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-ui-gen-"));
    try {
      const file = join(dir, "assets.ts");
      const written = await writeGeneratedAssets(file);
      const mod = (await import(file)) as { UI_ASSETS: { js: string; css: string; hash: string } };
      expect(mod.UI_ASSETS).toEqual(written);
      expect(mod.UI_ASSETS.hash).toBe(hashOf(mod.UI_ASSETS.js, mod.UI_ASSETS.css));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test("from source, the app is bundled again only after a file under app/ changes", async () => {
    const load = assetLoader();
    const first = load();
    expect(load()).toBe(first);
    await first;
    const file = join(APP_DIR, "format.ts");
    const { atime, mtime } = statSync(file);
    try {
      utimesSync(file, atime, new Date(mtime.getTime() + 5_000));
      const second = load();
      expect(second).not.toBe(first);
      // Same text, same bundle: the hash (and so every cached asset URL) stays.
      expect((await second).hash).toBe((await first).hash);
    } finally {
      utimesSync(file, atime, mtime);
    }
  }, 30_000);
});

describe("routes and config", () => {
  const mounted = (redirect_root: boolean) => {
    const paths: string[] = [];
    const ctx = { config: { redirect_root }, route: (def: { method: string; path: string }) => paths.push(`${def.method.toUpperCase()} ${def.path}`) };
    pageRoutes(ctx as never, async () => ({ js: "", css: "", hash: "x" }));
    return paths;
  };

  test("GET / redirects unless redirect_root = false", () => {
    expect(mounted(true)).toEqual(["GET /ui", "GET /ui/", "GET /ui/assets/{file}", "GET /"]);
    expect(mounted(false)).not.toContain("GET /");
    expect(uiConfigSchema.parse({})).toEqual({ redirect_root: true });
    expect(uiConfigSchema.safeParse({ redirect_root: "yes" }).success).toBe(false);
    expect(uiConfigSchema.safeParse({ port: 1 }).success).toBe(false);
  });

  test("a bundling error answers 500 for that request and leaves the plugin alone", async () => {
    const handlers = new Map<string, () => Promise<Response>>();
    const ctx = { config: { redirect_root: true }, route: (def: { path: string }, fn: () => Promise<Response>) => handlers.set(def.path, fn) };
    let broken = true;
    pageRoutes(ctx as never, async () => {
      if (broken) throw new Error("app/main.ts:3:1: error: Unexpected }");
      return { js: "x", css: "y", hash: "abc" };
    });
    const err = await handlers.get("/ui")!().catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(500);
    expect(err.message).toContain("Unexpected }");
    broken = false;
    expect(await (await handlers.get("/ui")!()).text()).toContain("/ui/assets/app.abc.js");
  });

  test("the page's event topics are the server's", () => {
    const src = readFileSync(join(APP_DIR, "live.ts"), "utf8");
    const list = /export const TOPICS = \[([^\]]*)\]/.exec(src)![1]!.match(/"[a-z]+"/g)!.map((s) => s.slice(1, -1));
    expect(list).toEqual([...TOPICS]);
  });

  test("checks are resource:access[:segment]; the segment may hold colons", () => {
    expect(parseCheck("plugin:write:dns")).toEqual({ resource: "plugin", access: "write", segment: "dns" });
    expect(parseCheck("key:write-under:a:b/")).toEqual({ resource: "key", access: "write-under", segment: "a:b/" });
    expect(parseCheck("operator:read")).toEqual({ resource: "operator", access: "read", segment: "" });
    expect(() => parseCheck("bogus:read")).toThrow(/unknown resource/);
    expect(() => parseCheck("key:admin:x")).toThrow(/access must be/);
  });
});

describe("a dev node serves the dashboard", () => {
  let node: CorralProcess;
  beforeAll(async () => {
    node = await startCorral({ role: "dev" });
  }, 30_000);
  afterAll(() => killAll());

  test("/ → /ui; the page names content-hashed assets; strict headers", async () => {
    const root = await fetch(node.url + "/", { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/ui");
    const page = await fetch(node.url + "/ui");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("cache-control")).toBe("no-store");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await page.text();
    const js = /src="(\/ui\/assets\/app\.[0-9a-f]{12}\.js)"/.exec(html)?.[1];
    const css = /href="(\/ui\/assets\/app\.[0-9a-f]{12}\.css)"/.exec(html)?.[1];
    expect(js && css).toBeTruthy();
    const [jr, cr] = await Promise.all([fetch(node.url + js), fetch(node.url + css)]);
    expect(jr.headers.get("content-type")).toContain("text/javascript");
    expect(cr.headers.get("content-type")).toContain("text/css");
    expect(jr.headers.get("cache-control")).toContain("immutable");
    expect((await jr.text()).length).toBeGreaterThan(10_000);
    expect((await fetch(node.url + "/ui/assets/app.000000000000.js")).status).toBe(404);
    expect((await fetch(node.url + "/ui/assets/favicon.svg")).headers.get("content-type")).toContain("svg");
    expect((await fetch(node.url + "/ui/")).status).toBe(200);
  }, 30_000);

  test("/v1/ui/session with ACLs off: no token, everything allowed; bad checks are 400", async () => {
    const s = await getJson(node.url + "/v1/ui/session?can=plugin:write:dns&can=key:write-under:app/");
    expect(s.status).toBe(200);
    expect(s.body).toEqual({ acl: { enabled: false }, token: null, can: { "plugin:write:dns": true, "key:write-under:app/": true } });
    expect((await getJson(node.url + "/v1/ui/session?can=nope:read")).status).toBe(400);
  });

  test("the route list declares the ui routes open (page) and authenticated (session)", async () => {
    const routes = (await getJson(node.url + "/v1/operator/routes")).body as { method: string; path: string; owner: string; permission: string | null }[];
    const ui = routes.filter((r) => r.owner === "ui").map((r) => `${r.method} ${r.path} ${r.permission}`).sort();
    expect(ui).toEqual(["GET / none", "GET /ui none", "GET /ui/ none", "GET /ui/assets/{file} none", "GET /v1/ui/session authenticated"]);
  });

  test("disabling the plugin takes the dashboard away; enabling brings it back", async () => {
    const off = await fetch(node.url + "/v1/plugins/ui", { method: "PUT", body: JSON.stringify({ enabled: false }), headers: { "content-type": "application/json" } });
    expect(off.status).toBe(200);
    expect((await fetch(node.url + "/ui")).status).toBe(404);
    expect((await fetch(node.url + "/", { redirect: "manual" })).status).toBe(404);
    await fetch(node.url + "/v1/plugins/ui", { method: "PUT", body: JSON.stringify({ enabled: true }), headers: { "content-type": "application/json" } });
    expect((await fetch(node.url + "/ui")).status).toBe(200);
  });
});
