// The dashboard's own routes: the page, its assets, and the `/` redirect.
// They need no token (the page holds no data; it asks the API for
// everything, with the token the user gives it), so they are listed in
// core/acl/route-permissions.ts OPEN_ROUTES.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, type PluginContext } from "../../core/sdk/index.ts";
import type { UiAssets } from "./assets.ts";

/**
 * Everything the page loads is same-origin and no inline script or style
 * runs: the strictest policy that fits, so an injected string can never
 * execute, and a stray external URL fails loudly in development.
 */
export const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "font-src 'self'", "manifest-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join("; ");

const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1f6f5c"/>' +
  '<path d="M7 9v14M25 9v14M7 13h18M7 19h18" stroke="#fff" stroke-width="2.5" stroke-linecap="round"/></svg>';

export function pageHtml(a: UiAssets): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>corral</title>
<link rel="icon" href="/ui/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/assets/app.${a.hash}.css">
<script type="module" src="/ui/assets/app.${a.hash}.js"></script>
</head>
<body>
<noscript><p>The corral dashboard needs JavaScript. The API is described at <a href="/v1/openapi.json">/v1/openapi.json</a>.</p></noscript>
<div id="app"></div>
</body>
</html>
`;
}

const SECURITY_HEADERS = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

const html = { 200: { description: "The dashboard page", content: { "text/html": { schema: z.string() } } } };

export function pageRoutes(ctx: PluginContext<{ redirect_root: boolean }>, load: () => Promise<UiAssets>): void {
  const open = { permission: "none" as const };
  // A bundling error (an app file being edited) is this request's 500, not a
  // plugin failure: the next request bundles again.
  const assets = async () => {
    try {
      return await load();
    } catch (err) {
      throw new ApiError(500, "UI_ASSETS_UNAVAILABLE", (err as Error)?.message ?? String(err));
    }
  };
  const page = async () =>
    new Response(pageHtml(await assets()), {
      // no-store: a rebuilt app has new asset names, and the page must name them.
      headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...SECURITY_HEADERS },
    });

  ctx.route(createRoute({ method: "get", path: "/ui", tags: ["ui"], summary: "The web dashboard", responses: html }), page, open);
  ctx.route(createRoute({ method: "get", path: "/ui/", tags: ["ui"], summary: "The web dashboard", responses: html }), page, open);

  ctx.route(
    createRoute({
      method: "get", path: "/ui/assets/{file}", tags: ["ui"], summary: "The dashboard's script, style sheet and icon (content-hashed names, cached forever)",
      request: { params: z.object({ file: z.string().max(64) }) },
      responses: { 200: { description: "The asset", content: { "text/javascript": { schema: z.string() }, "text/css": { schema: z.string() } } } },
    }),
    async (c: Context) => {
      const file = c.req.param("file") ?? "";
      if (file === "favicon.svg") return asset(FAVICON, "image/svg+xml", "public, max-age=86400");
      const a = await assets();
      if (file === `app.${a.hash}.js`) return asset(a.js, "text/javascript; charset=utf-8");
      if (file === `app.${a.hash}.css`) return asset(a.css, "text/css; charset=utf-8");
      throw new ApiError(404, "NOT_FOUND", `no dashboard asset "${file}" (the page names the current ones)`);
    },
    open,
  );

  if (ctx.config.redirect_root) {
    ctx.route(
      createRoute({ method: "get", path: "/", tags: ["ui"], summary: "Redirects to the dashboard ([plugins.ui] redirect_root)", responses: { 302: { description: "To /ui" } } }),
      () => new Response(null, { status: 302, headers: { location: "/ui" } }),
      open,
    );
  }
}

function asset(body: string, type: string, cache = "public, max-age=31536000, immutable"): Response {
  return new Response(body, { headers: { "content-type": type, "cache-control": cache, "x-content-type-options": "nosniff" } });
}
