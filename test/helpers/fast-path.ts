// One route's fast path run by the route table's dispatcher (core/http/fast-dispatch.ts),
// without a node: unit tests of a fast path's declaration.
import type { ZodType } from "zod";
import { fastDispatcher, type FastDispatch, type Fetch } from "../../core/http/fast-dispatch.ts";
import type { FastRoute } from "../../core/http/fast-route.ts";
import type { HttpMetrics } from "../../core/http/middleware/http-metrics.ts";
import { RpcVerifier } from "../../core/http/middleware/cluster-auth.ts";
import { PEER_PREFIXES } from "../../core/http/peer-paths.ts";

const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } } as never;

export function dispatchOne(method: string, path: string, fast: FastRoute<any>, o: {
  bodySchema?: ZodType; open?: () => boolean; maxBodyBytes?: number; metrics?: HttpMetrics; verifier?: RpcVerifier; fallback?: Fetch;
} = {}): (req: Request, env?: unknown) => Promise<Response> | undefined {
  const dispatch: FastDispatch | undefined = fastDispatcher([{ method, path, fast, bodySchema: o.bodySchema }], {
    verifier: o.verifier ?? new RpcVerifier({ secret: "unused-secret-0123456789", isOurs: () => false }),
    signedPrefixes: PEER_PREFIXES,
    bodyCap: () => o.maxBodyBytes ?? 1000,
    open: o.open ?? (() => true),
    metrics: o.metrics,
    log: silent,
  }, o.fallback ?? (() => { throw new Error("no route table here"); }));
  return dispatch!;
}
