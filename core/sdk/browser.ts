// The browser-safe part of the plugin SDK: pure code with no Node or Bun
// imports, for plugins' browser bundles (the dashboard, plugins/ui/app).
// core/sdk/index.ts pulls in server modules and must stay out of a bundle.
export { placementFailureText } from "../scheduler/placement-failure.ts";
export type { FailedTGAllocs } from "../scheduler/placement-failure.ts";
