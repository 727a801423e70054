// The mesh's pure parts: SPIFFE IDs, the service a peer certificate names,
// leaf renewal at half life (injected clock), and the caller's service
// identity from a token — a task's workload token speaks for its task's
// service (core/acl/resolve.ts), which is what the mesh presents.
import { describe, expect, test } from "bun:test";
import { parseSpiffeServiceId, spiffeServiceId } from "../../core/connect/spiffe.ts";
import { peerService } from "../../plugins/invoke/mesh-server.ts";
import { MeshIdentity } from "../../plugins/invoke/mesh-identity.ts";
import { workloadServiceFromState } from "../../core/variables/workload-verify.ts";

const ALLOC = "0f9a1c2e-3b4d-4e5f-8a6b-7c8d9e0f1a2b";

describe("SPIFFE IDs", () => {
  test("Consul's shape, names lower-cased; anything else names no service", () => {
    expect(spiffeServiceId("x.corral", "default", "Web")).toBe("spiffe://x.corral/ns/default/svc/web");
    expect(parseSpiffeServiceId("spiffe://x.corral/ns/default/svc/web")).toEqual({ trustDomain: "x.corral", namespace: "default", service: "web" });
    for (const bad of ["spiffe://x.corral/ns/default/svc/", "spiffe://x.corral/ns/default/svc/a/b", "spiffe://x.corral/agent/client", "https://x.corral/ns/default/svc/web", "spiffe://X_/ns/default/svc/web"]) {
      expect(parseSpiffeServiceId(bad)).toBeUndefined();
    }
  });

  test("a peer certificate's service: its URI SAN in this trust domain only", () => {
    expect(peerService("URI:spiffe://td.corral/ns/default/svc/web", "td.corral")).toBe("web");
    expect(peerService("DNS:web, URI:spiffe://td.corral/ns/default/svc/api", "td.corral")).toBe("api");
    expect(peerService("URI:spiffe://other.corral/ns/default/svc/web", "td.corral")).toBeUndefined();
    expect(peerService("DNS:spiffe://td.corral/ns/default/svc/web", "td.corral")).toBeUndefined();
    expect(peerService(undefined, "td.corral")).toBeUndefined();
  });
});

describe("leaves", () => {
  test("made once, renewed past half their life, the old one serving while the new one is made", async () => {
    let now = 1_000_000;
    let made = 0;
    let release: () => void = () => {};
    let gate: Promise<void> = Promise.resolve();
    const ca = {
      roots: async () => ({ ActiveRootID: "r", TrustDomain: "td", Roots: [], Index: 1 }),
      leaf: async (service: string, ttl: number) => {
        await gate;
        made++;
        return { SerialNumber: String(made), CertPEM: `cert-${service}-${made}`, PrivateKeyPEM: `key-${made}`, Service: service, ServiceURI: "", ValidAfter: "", ValidBefore: new Date(now + ttl).toISOString(), CreateIndex: 1, ModifyIndex: 1 };
      },
    };
    const id = new MeshIdentity(ca as never, 100_000, () => now);
    const [a, b] = await Promise.all([id.leaf("Web"), id.leaf("web")]);
    expect(made).toBe(1); // concurrent callers share one request
    expect(a.cert).toBe("cert-web-1");
    expect(b).toBe(a);
    now += 49_000;
    expect((await id.leaf("web")).cert).toBe("cert-web-1");
    now += 2_000; // past half: renewal starts; the valid leaf serves meanwhile
    gate = new Promise((r) => (release = r));
    expect((await id.leaf("web")).cert).toBe("cert-web-1");
    release();
    await gate;
    await Bun.sleep(0);
    expect((await id.leaf("web")).cert).toBe("cert-web-2");
  });
});

describe("the caller's service identity", () => {
  test("a task's workload token speaks for the service its task registers", async () => {
    const { TokenResolver } = await import("../../core/acl/resolve.ts");
    const { callAuthorizer } = await import("../../core/acl/calls.ts");
    const resolver = new TokenResolver({
      source: { lookup: () => null, version: () => 1 }, defaultAllow: () => false, ttlMs: 0, downPolicy: "deny",
      workload: async () => ({ allocId: ALLOC, task: "t", namespace: "default", jobId: "shop", group: "g", service: "web" }),
    });
    expect((await resolver.resolve("cwi1.x"))?.serviceIdentities).toEqual(["web"]);
    const calls = callAuthorizer({
      enabled: () => true, defaultAllow: () => false, resolver: () => resolver,
      intentions: () => [{ source: "web", destination: "files", action: "allow" as const }],
    });
    expect(await calls.callerOf("cwi1.x")).toBe("web");
    expect(await calls.authorizeCall("cwi1.x", "files")).toEqual({ allowed: true, reason: "intention web => files (allow)" });
    expect((await calls.authorizeSource("web", "files")).allowed).toBe(true);
    expect(await calls.authorizeSource("", "files")).toEqual({ allowed: false, reason: "no intention matches (no service identity) => files: default policy deny" });
  });

  test("the workloadService fact: the task's service while its allocation is live", () => {
    const alloc = (desiredStatus: string) => ({
      id: ALLOC, jobId: "shop", namespace: "default", groupName: "g", desiredStatus, clientStatus: "running",
      groupSpec: { tasks: [{ name: "t", service: { name: "web" } }, { name: "side" }] },
    });
    const state = (a: unknown) => ({ jobs: { getAlloc: () => a } }) as never;
    expect(workloadServiceFromState(state(alloc("run")), `${ALLOC}/t`)).toBe("web");
    expect(workloadServiceFromState(state(alloc("run")), `${ALLOC}/side`)).toBe("");
    expect(workloadServiceFromState(state(alloc("run")), `${ALLOC}/nope`)).toBe("");
    expect(workloadServiceFromState(state(alloc("stop")), `${ALLOC}/t`)).toBe("");
  });
});
