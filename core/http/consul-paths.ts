// Which routes speak Consul's dialect (shared/reference/consul-http-api.md):
// their errors are short text/plain bodies, as Consul sends and node-consul
// shows; every other route answers errors as JSON { error, code }. One rule,
// used by the ACL, rate-limit and error paths and checked by the fuzzer.
const CONSUL_PREFIXES = ["/v1/agent/", "/v1/catalog/", "/v1/health/", "/v1/kv/", "/v1/status/", "/v1/acl/", "/v1/connect/", "/v1/session/"];
const CONSUL_EXACT = new Set(["/v1/kv", "/v1/txn", "/v1/operator/raft/configuration"]);

export function isConsulPath(path: string): boolean {
  return CONSUL_EXACT.has(path) || CONSUL_PREFIXES.some((p) => path.startsWith(p));
}
