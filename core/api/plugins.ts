// /v1/plugins: list plugins, enable/disable (PUT), reload (POST).
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../http/errors.ts";
import { PluginError } from "../plugins/host.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonBody, jsonResponse, pathParam, PluginView } from "./schemas.ts";
import { readScope } from "../acl/read-scope.ts";

const Name = z.object({ name: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, "plugin names are lowercase words") });

function toApiError(err: unknown): never {
  if (err instanceof PluginError) {
    const status = err.code === "PLUGIN_NOT_FOUND" ? 404 : err.code === "PLUGIN_SETUP_FAILED" ? 500 : 409;
    throw new ApiError(status, err.code, err.message);
  }
  throw err;
}

export function pluginRoutes(d: CoreApiDeps) {
  d.routes.add({
    owner: "core",
    leader: "local",
    route: createRoute({
      method: "get", path: "/v1/plugins", tags: ["plugins"], summary: "Plugins with state and last error",
      responses: jsonResponse(z.array(PluginView)),
    }),
    handler: (c) => c.json(readScope(c).keep(d.plugins.list(), "plugin", (p) => p.name)),
  });

  d.routes.add({
    owner: "core",
    leader: "local",
    route: createRoute({
      method: "get", path: "/v1/plugins/{name}", tags: ["plugins"], summary: "One plugin",
      request: { params: Name },
      responses: { ...jsonResponse(PluginView), ...errorResponses },
    }),
    handler: (c) => {
      const p = d.plugins.get(pathParam(c, "name"));
      if (!p) throw new ApiError(404, "PLUGIN_NOT_FOUND", `no plugin named "${pathParam(c, "name")}"`);
      return c.json(p);
    },
  });

  d.routes.add({
    owner: "core",
    leader: "local",
    route: createRoute({
      method: "put", path: "/v1/plugins/{name}", tags: ["plugins"], summary: "Enable or disable a plugin at run time",
      request: { params: Name, ...jsonBody(z.object({ enabled: z.boolean() }).strict()) },
      responses: { ...jsonResponse(PluginView), ...errorResponses },
    }),
    handler: async (c) => {
      const name = pathParam(c, "name");
      const { enabled } = c.req.valid("json" as never) as { enabled: boolean };
      const info = await (enabled ? d.plugins.enable(name) : d.plugins.disable(name)).catch(toApiError);
      return c.json(info);
    },
  });

  d.routes.add({
    owner: "core",
    leader: "local",
    route: createRoute({
      method: "post", path: "/v1/plugins/{name}/reload", tags: ["plugins"],
      summary: "Stop and start a plugin with fresh config (and fresh code for external plugins)",
      request: { params: Name },
      responses: { ...jsonResponse(PluginView), ...errorResponses },
    }),
    handler: async (c) => c.json(await d.plugins.reload(pathParam(c, "name")).catch(toApiError)),
  });
}
