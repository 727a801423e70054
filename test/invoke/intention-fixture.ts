// The node both intention tests (HTTP/1.1 and gRPC) call through: a dev node
// with ACLs on (default deny), services "files" and "events" from the given
// backends, intentions web → files deny and web → events allow, and a token
// that speaks for "web" (service read on all: the API route needs it on the
// destination; the proxy listener checks intentions only).
import { expect } from "bun:test";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";
import { proxyPort, register, waitPassing, type Backend } from "./helpers.ts";

export interface IntentionFixture {
  n: AclNode;
  /** The "web" service's token. */
  web: string;
  /** The proxy listener's port. */
  port: number;
}

export async function intentionFixture(startBackend: (name: string) => Promise<Pick<Backend, "id" | "port">>): Promise<IntentionFixture> {
  const n = await startAclNode("\n[plugins.invoke]\nport = 0\n");
  const m = n.management;
  for (const name of ["files", "events"]) await register(n.proc, name, await startBackend(name), { token: m });
  await waitPassing(n.proc, "files", 1, 10_000, m);
  await waitPassing(n.proc, "events", 1, 10_000, m);
  expect((await call(n.url, "PUT", "/v1/connect/intentions/exact?source=web&destination=files", m, { Action: "deny" })).status).toBe(200);
  expect((await call(n.url, "PUT", "/v1/connect/intentions/exact?source=web&destination=events", m, { Action: "allow" })).status).toBe(200);
  const web = (await tokenWith(n, "web", 'service_prefix "" { policy = "read" }', ["web"])).secret;
  return { n, web, port: await proxyPort(n.proc, m) };
}
