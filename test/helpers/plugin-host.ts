// A plugin host in the test process, for plugin tests that need no node: a
// route table with JSON errors, an empty state (proposals are refused), a
// fresh metrics registry, and the plugin settings the test gives.
import { Registry } from "prom-client";
import { EventBus } from "../../core/events.ts";
import { RouteTable } from "../../core/http/routes.ts";
import { silentLogger } from "../../core/log.ts";
import { PluginHost } from "../../core/plugins/host.ts";
import { emptyStateReader } from "../../core/state/reader.ts";

export function testPluginHost(settings: () => Record<string, Record<string, unknown>>): { host: PluginHost; routes: RouteTable; metrics: Registry } {
  const metrics = new Registry();
  const routes = new RouteTable({
    middlewares: [],
    onError: (err, c) => c.json({ error: err.message }, 500),
    notFound: (c) => c.json({ error: "not found" }, 404),
    invalidInput: (message, c) => c.json({ error: message }, 400),
    title: "test",
    version: "0",
  });
  const host = new PluginHost(
    {
      log: silentLogger, routes, bus: new EventBus(), state: emptyStateReader, metrics,
      propose: () => Promise.reject(new Error("no state in this test")),
      host: { nodeId: "id-1", nodeName: "node-1", role: "dev", dataDir: "/tmp", datacenter: "dc1" },
    },
    settings,
  );
  return { host, routes, metrics };
}
