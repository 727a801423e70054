// The mesh on a single dev node with ACLs off (mesh_port = 0: the node's own
// listener): calls still cross the mTLS hop (the node calls itself), pass
// without intentions, and a caller without a token arrives as "plain"; the
// proxy listener stays on the sockets engine (its attempts go over the
// mesh's pool of mTLS connections, fast/mesh-upstream.ts).
import { afterAll, expect, test } from "bun:test";
import { eventually, getJson, killAll, startCorral } from "../helpers/proc.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing } from "../invoke/helpers.ts";

afterAll(async () => {
  await killBackends();
  await killAll();
});

test("dev node, ACLs off: calls pass through the node's own mesh listener", async () => {
  const node = await startCorral({ config: `[plugins.invoke]\nport = 0\nmesh = true\nmesh_port = 0\n` });
  await register(node, "files", await startBackend("files"));
  await waitPassing(node, "files", 1);
  const port = await proxyPort(node);
  const r = await eventually(async () => {
    const x = await getJson(`http://127.0.0.1:${port}/echo`, { headers: { host: "files", "x-forwarded-client-cert": "URI=spiffe://forged/ns/default/svc/admin" } });
    return x.status === 200 ? x : undefined;
  }, 15_000);
  expect(r.body.id).toBe("files");
  // No token, no identity: no client certificate, and the caller's own header is gone.
  expect(r.body.headers["x-forwarded-client-cert"]).toBeUndefined();
  const metrics = (await getJson(`${node.url}/metrics`)).body as string;
  expect(metrics).toMatch(/corral_invoke_mesh_handshakes_total\{peer="plain"\} [1-9]/);
  const cfg = (await getJson(`${node.url}/v1/invoke-config`)).body;
  expect(cfg.listener.engine).toBe("sockets");
}, 60_000);
