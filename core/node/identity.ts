// Who a node is and the names it answers to: its id, role, cluster secret and
// signing key, its advertised address, and the RPC verifier that checks a
// signature names this node. The first step of core/node.ts startNode.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import { loadOrCreateNodeId } from "../cluster/identity.ts";
import { browserGuard, HostAllowList, type Guard, type HostNames } from "../http/browser-guard.ts";
import { ownAuthorities } from "../http/rpc-receiver.ts";
import { RpcVerifier, type NodeKey } from "../http/middleware/cluster-auth.ts";

/** Who this node is and how it names itself to peers: id, role, signing key, advertised address. */
export interface NodeIdentity {
  nodeId: string;
  role: Config["role"];
  /** Holds the replicated state (leader or dev). */
  isLeaderRole: boolean;
  secret: string;
  legacy: Config["cluster"]["legacySignatures"];
  key: NodeKey;
  advertiseHost: string;
  /** The port node.advertise names, when it carries its own (a NAT or proxy in front of this node). */
  advertisedPort?: number;
  /** host:port peers reach this node at (the configured HTTP port unless node.advertise names one). */
  selfAddress: string;
}

export function nodeIdentity(config: Config, dataDir: string): NodeIdentity {
  const nodeId = loadOrCreateNodeId(dataDir);
  const role = config.role;
  const secret = config.cluster.secret || devSecret(dataDir);
  // Node RPC is signed with the cluster secret and names this node; one
  // verifier per process holds the nonces of the replay window
  // (core/http/rpc-signature.ts).
  // cluster.legacy_signatures: during a rolling upgrade from the release that
  // signed v1, every sender (they all sign with this key) and every check
  // (they all go through this verifier) follow the same mode.
  const legacy = config.cluster.legacySignatures;
  const advertised = /^(\[[^\]]+\]|[^:\[\]]+):(\d{1,5})$/.exec(config.node.advertise);
  const advertiseHost = advertised ? advertised[1]! : config.node.advertise;
  return {
    nodeId, role, isLeaderRole: role === "leader" || role === "dev", secret, legacy,
    key: { secret, node: nodeId, legacy },
    advertiseHost,
    advertisedPort: advertised ? Number(advertised[2]) : undefined,
    selfAddress: advertised ? config.node.advertise : `${advertiseHost}:${config.node.httpPort}`,
  };
}

/**
 * The names and ports this node answers to. A signature must name this node
 * (core/http/rpc-receiver.ts): one of the names of the browser guard's Host
 * allow-list (rebuilt on reload), with the port this node listens on (known
 * once the server listens) or advertises.
 */
export class OwnAddresses {
  names: HostAllowList;
  port: number;
  constructor(private readonly id: NodeIdentity, config: Config) {
    this.names = new HostAllowList(this.hostNames(config));
    this.port = config.node.httpPort;
  }

  hostNames(c: Config): HostNames {
    return { bind: c.node.bind, advertise: this.id.advertiseHost, allowedHosts: c.http.allowedHosts };
  }

  ports(): number[] {
    return this.id.advertisedPort !== undefined ? [this.port, this.id.advertisedPort] : [this.port];
  }

  /** The browser guard for a config; its Host allow-list becomes this node's names. */
  guardFor(c: Config, verifier: RpcVerifier, log: Logger): Guard {
    this.names = new HostAllowList(this.hostNames(c));
    return browserGuard({ ...this.hostNames(c), hosts: this.names, allowedOrigins: c.http.allowedOrigins, verifier, maxBodyBytes: c.http.maxBodyBytes, log });
  }
}

export function rpcVerifier(id: NodeIdentity, own: OwnAddresses, log: Logger): RpcVerifier {
  return new RpcVerifier({
    secret: id.secret, legacy: id.legacy, log,
    isOurs: ownAuthorities({ isOwnName: (h) => own.names.isOwnName(h), ports: () => own.ports() }),
  });
}

/**
 * A dev node with no configured secret gets a random one, kept in its data
 * dir so that a local agent can be pointed at it (see README).
 */
function devSecret(dataDir: string): string {
  const file = join(dataDir, "cluster-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const s = randomBytes(24).toString("base64url");
  writeFileSync(file, s + "\n", { mode: 0o600 });
  return s;
}
