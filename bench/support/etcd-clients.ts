// The two ways bench/raft.ts drives etcd: its native gRPC client (npm
// `etcd3` on @grpc/grpc-js, one HTTP/2 connection to the leader carrying every
// concurrent request as its own stream: how etcd's users and its own benchmark
// tool talk to it) and its v3 JSON gateway (plain HTTP/1.1 + JSON, which etcd
// translates to gRPC inside its own process; cheaper to reach from a script,
// dearer for etcd). Each exposes the three operations the bench measures:
// a 100-byte put, a linearizable get (etcd's default) and a serializable one
// (served from the member's own state, like corral's `?stale`).
import { Etcd3 } from "etcd3";

/** One operation against a cluster; resolves true when it succeeded. */
export type Op = (i: number) => Promise<boolean>;

export interface KvDriver {
  write: Op;
  /** Linearizable read. */
  read: Op;
  /** Serializable read (member-local, may be stale). */
  staleRead: Op;
  close(): void;
}

/** Keys the bench writes and reads: `bench/0` … `bench/999`. */
export const benchKey = (i: number): string => `bench/${i % 1000}`;

/** etcd through its native gRPC client, connected to the leader only (as corral's clients are). */
export function etcdNative(leaderUrl: string, value: string): KvDriver {
  const client = new Etcd3({ hosts: leaderUrl });
  const buf = Buffer.from(value);
  return {
    write: async (i) => {
      await client.put(benchKey(i)).value(buf).exec();
      return true;
    },
    read: async (i) => (await client.get(benchKey(i)).buffer()) !== null,
    staleRead: async (i) => (await client.get(benchKey(i)).serializable(true).buffer()) !== null,
    close: () => client.close(),
  };
}

/** etcd through its v3 JSON gateway (base64 keys and values, POST per call). */
export function etcdGateway(leaderUrl: string, value: string): KvDriver {
  const b64value = Buffer.from(value).toString("base64");
  const b64 = (i: number) => Buffer.from(benchKey(i)).toString("base64");
  const range = async (i: number, serializable: boolean) => {
    const r = await fetch(leaderUrl + "/v3/kv/range", { method: "POST", body: JSON.stringify({ key: b64(i), serializable }) });
    const body = (await r.json()) as { kvs?: unknown[] };
    return r.ok && (body.kvs?.length ?? 0) > 0;
  };
  return {
    write: async (i) => {
      const r = await fetch(leaderUrl + "/v3/kv/put", { method: "POST", body: JSON.stringify({ key: b64(i), value: b64value }) });
      await r.arrayBuffer();
      return r.ok;
    },
    read: (i) => range(i, false),
    staleRead: (i) => range(i, true),
    close: () => {},
  };
}

/** corral through its HTTP API as its users drive it: Consul's KV routes, on the leader. */
export function corralHttp(leaderUrl: string, value: string): KvDriver {
  const get = async (i: number, mode: "consistent" | "stale") => {
    const r = await fetch(`${leaderUrl}/v1/kv/${benchKey(i)}?${mode}`);
    const body = (await r.json()) as unknown[];
    return r.ok && Array.isArray(body) && body.length === 1;
  };
  return {
    write: async (i) => {
      const r = await fetch(`${leaderUrl}/v1/kv/${benchKey(i)}`, { method: "PUT", body: value });
      return r.ok && (await r.json()) === true;
    },
    read: (i) => get(i, "consistent"),
    staleRead: (i) => get(i, "stale"),
    close: () => {},
  };
}
