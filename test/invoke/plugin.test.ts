// The invoke plugin run by the real plugin host, in process, with an injected
// instance source (a real backend on a socket) and an injected authorizer:
// intentions deny with 403 and the reason, the listener's port is freed on
// disable and bound again on enable/reload, run-time policy overrides, metrics.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { CallAuthorizer } from "../../plugins/invoke/authorize.ts";
import { createInvokePlugin } from "../../plugins/invoke/index.ts";
import type { CatalogSource, InstanceView } from "../../plugins/invoke/watch.ts";
import { freePort } from "../helpers/proc.ts";
import { testPluginHost } from "../helpers/plugin-host.ts";

/** Intentions as authz would answer them: the "web" identity may not call "db". */
const tokens: Record<string, string> = { "web-token": "web", "api-token": "api" };
const authorizer: CallAuthorizer = {
  enabled: () => true,
  authorizeCall(token, destination) {
    const source = token ? tokens[token] : undefined;
    if (!source) return { allowed: false, reason: "no token with a service identity (default deny)" };
    if (source === "web" && destination === "db") return { allowed: false, reason: 'intention "web => db" (deny)' };
    return { allowed: true, reason: `intention "${source} => *" (allow)` };
  },
};

let backend: ReturnType<typeof Bun.serve>;
const views = new Map<string, InstanceView>();
const source: CatalogSource = {
  watch(service, on) {
    queueMicrotask(() => on.update(views.get(service) ?? { exists: false, passing: [] }));
    return { stop() {} };
  },
};

let port = 0;
const { host, routes, metrics } = testPluginHost(() => ({ invoke: { port } }));
host.registerBuiltin(createInvokePlugin({ authorizer: () => authorizer, source: () => source }));

const proxy = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) => fetch(`http://127.0.0.1:${port}${path}`, init);
const api = (path: string, init?: RequestInit) => routes.fetch(new Request(`http://node${path}`, init));

async function portFree(p: number): Promise<boolean> {
  try {
    const s = Bun.serve({ port: p, hostname: "127.0.0.1", fetch: () => new Response() });
    s.stop(true);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  backend = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => new Response(`db says hi to ${req.headers.get("x-consul-token") ?? "nobody"}`) });
  const spec = { node: "n1", address: "127.0.0.1", port: backend.port!, weight: 1 };
  views.set("db", { exists: true, passing: [{ key: "n1/db-1", serviceId: "db-1", ...spec }] });
  port = await freePort();
  expect((await host.enable("invoke")).state).toBe("enabled");
});

afterAll(async () => {
  await host.stopAll();
  backend.stop(true);
});

describe("intentions", () => {
  test("a caller whose identity an intention denies gets 403 with the reason", async () => {
    const r = await proxy("/", { headers: { host: "db", "x-consul-token": "web-token" } });
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ error: 'calling "db" is not allowed: intention "web => db" (deny)', code: "INTENTION_DENIED", reason: 'intention "web => db" (deny)' });
    const viaApi = await api("/v1/invoke/db/x", { headers: { "x-corral-token": "web-token" } });
    expect(viaApi.status).toBe(403);
    expect(((await viaApi.json()) as { reason: string }).reason).toContain("web => db");
  });

  test("an allowed caller gets through, and its token is not passed on", async () => {
    const r = await proxy("/", { headers: { host: "db", "x-consul-token": "api-token" } });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("db says hi to nobody");
  });

  test("no token: the default applies", async () => {
    const r = await proxy("/", { headers: { host: "db" } });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { reason: string }).reason).toContain("default deny");
  });
});

describe("run-time policy", () => {
  test("PUT overrides a service's policy on this node; DELETE restores the config's", async () => {
    let r = await api("/v1/invoke-config/db", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ strategy: "round_robin", tryTimeout: "750ms" }) });
    expect(r.status).toBe(200);
    let body = (await r.json()) as { policy: { strategy: string; tryTimeoutMs: number }; override: unknown };
    expect(body.policy).toMatchObject({ strategy: "round_robin", tryTimeoutMs: 750 });
    r = await api("/v1/invoke-config/db", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ strategy: "fastest" }) });
    expect(r.status).toBe(400);
    r = await api("/v1/invoke-config/db", { method: "DELETE" });
    body = (await r.json()) as typeof body;
    expect(body.policy).toMatchObject({ strategy: "p2c", tryTimeoutMs: 5000 });
    expect(body.override).toBeNull();
  });

  test("metrics are on the node's registry", async () => {
    const text = await metrics.metrics();
    expect(text).toContain('corral_invoke_errors_total{service="db",kind="denied"}');
    expect(text).toMatch(/corral_invoke_requests_total\{service="db",instance="db-1@n1",code="2xx"\} \d+/);
    expect(text).toContain("corral_invoke_request_duration_seconds_bucket");
  });
});

describe("lifecycle", () => {
  test("disable frees the listener's port and the routes; enable and reload bind it again", async () => {
    expect((await host.disable("invoke")).state).toBe("disabled");
    expect(await portFree(port)).toBe(true);
    expect((await api("/v1/invoke-config")).status).toBe(404);
    expect(await metrics.metrics()).not.toContain("corral_invoke_requests_total");
    expect((await host.enable("invoke")).state).toBe("enabled");
    expect(await portFree(port)).toBe(false);
    expect((await host.reload("invoke")).state).toBe("enabled");
    const r = await proxy("/", { headers: { host: "db", "x-consul-token": "api-token" } });
    expect(r.status).toBe(200);
  });

  test("a port in use fails the plugin and the node keeps going", async () => {
    await host.disable("invoke");
    const squatter = Bun.serve({ port, hostname: "127.0.0.1", fetch: () => new Response() });
    try {
      const info = await host.enable("invoke").then((i) => i, (e) => ({ state: "failed", error: String(e) }));
      expect(info.state).toBe("failed");
    } finally {
      squatter.stop(true);
    }
    expect((await host.enable("invoke")).state).toBe("enabled");
  });
});
