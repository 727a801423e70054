// The ui plugin: the web dashboard at /ui — a single-page app (app/, plain
// TypeScript and DOM, no framework) that talks only to the public API with
// the user's token, live through the event stream and blocking queries.
// See docs/ui.md.
import type { PluginHandle, PluginModule } from "../../core/sdk/index.ts";
import { assetLoader } from "./assets.ts";
import { uiConfigSchema, type UiConfig } from "./config.ts";
import { pageRoutes } from "./routes.ts";
import { sessionRoute } from "./session.ts";

export const uiPlugin: PluginModule<UiConfig> = {
  name: "ui",
  version: "0.1.0",
  description: "Web dashboard at /ui: nodes, services, jobs, plugins, KV and the live event stream",
  configSchema: uiConfigSchema,
  setup(ctx): PluginHandle {
    // A fresh loader per setup: `corral plugins reload ui` rebundles the app.
    pageRoutes(ctx, assetLoader());
    sessionRoute(ctx);
    return { stop() {} };
  },
};

export default uiPlugin;
export { uiConfigSchema, type UiConfig } from "./config.ts";
