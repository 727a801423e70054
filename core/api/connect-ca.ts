// The service mesh's CA (docs/mesh.md), in Consul Connect's shapes:
//   GET  /v1/connect/ca/roots                   the trusted roots (no ACL: public material, as Consul)
//   GET  /v1/agent/connect/ca/roots             the same, as an agent answers it
//   GET  /v1/agent/connect/ca/leaf/{service}    a fresh key and its leaf (service:<name> write, as Consul); ?ttl=1h (corral's)
//   POST /v1/operator/connect/ca/rotate         a new root, cross-signed by the old one (operator:write)
// and the signed RPC agents reach the leaders' CA with:
//   POST /v1/cluster/connect/roots | /v1/cluster/connect/sign {service, publicKeyPem, ttlMs}
// The leaf's private key is made on the node that answers the agent route
// (the caller's own agent): only its public key goes to a leader.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, badRequest } from "../http/errors.ts";
import { parseGoDuration } from "../config/duration.ts";
import { DEFAULT_LEAF_TTL_MS, MAX_LEAF_TTL_MS, rootsView, type ConnectCa } from "../connect/ca.ts";
import type { MeshCaAccess } from "../connect/access.ts";
import { validServiceName } from "../connect/spiffe.ts";
import { checkedPublicKey } from "../connect/x509.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonBody } from "./schemas.ts";

const tags = ["connect"];
const ok = { 200: { description: "OK" }, ...errorResponses };
/** The shortest leaf anyone may ask for (short ones are for tests of expiry). */
const MIN_LEAF_TTL_MS = 1000;

const SignBody = z.object({
  service: z.string().min(1).max(128),
  publicKeyPem: z.string().min(1).max(1024),
  ttlMs: z.number().int().min(MIN_LEAF_TTL_MS).max(MAX_LEAF_TTL_MS),
}).strict();

function leafTtl(c: Context): number {
  const raw = new URL(c.req.url).searchParams.get("ttl");
  if (raw === null) return DEFAULT_LEAF_TTL_MS;
  const ms = parseGoDuration(raw);
  if (ms === undefined || ms < MIN_LEAF_TTL_MS || ms > MAX_LEAF_TTL_MS) throw badRequest(`ttl must be a duration between 1s and ${MAX_LEAF_TTL_MS / 3600_000}h (e.g. "72h")`, "INVALID_TTL");
  return ms;
}

function serviceParam(c: Context): string {
  const s = c.req.param("service") ?? "";
  if (!validServiceName(s)) throw badRequest("the service name may hold letters, digits, _ . - (at most 128, starting with a letter or digit)", "INVALID_SERVICE");
  return s;
}

/** `ca` on leader-role nodes (undefined on agents); `access` on every node. */
export function connectCaRoutes(d: CoreApiDeps, ca: ConnectCa | undefined, access: MeshCaAccess) {
  const needCa = () => {
    if (!ca) throw new ApiError(503, "NOT_A_LEADER_ROLE", "the mesh CA is kept by leader-role nodes");
    return ca;
  };
  for (const path of ["/v1/connect/ca/roots", "/v1/agent/connect/ca/roots"]) {
    d.routes.add({
      owner: "core", leader: "local", permission: "none",
      route: createRoute({ method: "get", path, tags, summary: "The mesh CA's trusted roots (Consul's shape; never a private key)", responses: ok }),
      handler: async (c) => c.json(await access.roots()),
    });
  }
  d.routes.add({
    owner: "core", leader: "local",
    permission: { resource: "service", access: "write", segment: (c) => c.req.param("service") ?? "" },
    route: createRoute({
      method: "get", path: "/v1/agent/connect/ca/leaf/{service}", tags,
      summary: "A fresh private key and its leaf certificate for a service (SPIFFE URI SAN); ?ttl (default 72h)",
      request: { params: z.object({ service: z.string() }), query: z.object({ ttl: z.string().optional() }) }, responses: ok,
    }),
    handler: async (c) => {
      const leaf = await access.leaf(serviceParam(c), leafTtl(c));
      // It holds a private key: no cache on the way may keep it.
      c.header("Cache-Control", "no-store");
      return c.json(leaf);
    },
  });
  d.routes.add({
    owner: "core", leader: "forward", permission: { resource: "operator", access: "write" },
    route: createRoute({ method: "post", path: "/v1/operator/connect/ca/rotate", tags, summary: "A new mesh CA root, cross-signed by the current one, which stays trusted until its leaves expire", responses: ok }),
    handler: async (c) => {
      const { state, index } = await needCa().rotate();
      return c.json(rootsView(state, index));
    },
  });

  // Signed RPC (/v1/cluster/* needs a node's signature): an agent's access to the leaders' CA.
  d.routes.add({
    owner: "core", leader: "local",
    route: createRoute({ method: "post", path: "/v1/cluster/connect/roots", tags: ["cluster"], summary: "The mesh CA's roots, for an agent (signed with the cluster secret)", responses: ok }),
    handler: async (c) => c.json(await needCa().roots()),
  });
  d.routes.add({
    owner: "core", leader: "local",
    route: createRoute({ method: "post", path: "/v1/cluster/connect/sign", tags: ["cluster"], summary: "A leaf over an agent's public key (signed with the cluster secret)", request: jsonBody(SignBody), responses: ok }),
    handler: async (c) => {
      const body = c.req.valid("json" as never) as z.infer<typeof SignBody>;
      if (!validServiceName(body.service)) throw badRequest("invalid service name", "INVALID_SERVICE");
      let pem: string;
      try {
        pem = checkedPublicKey(body.publicKeyPem);
      } catch (err) {
        throw badRequest((err as Error).message, "INVALID_PUBLIC_KEY");
      }
      return c.json(await needCa().sign(body.service, pem, body.ttlMs));
    },
  });
}
