// The network of each allocation that runs containers (docs/containers.md
// "Network"): a network namespace of its own (`ip netns add`, which runc
// joins by path), a veth pair between it and the node with a /30 of
// 10.213.0.0/16 (subnet.ts), the agent's TCP proxy (port-proxy.ts) from
// each allocated host port to the container's `to` port, and (container_outbound)
// a slirp4netns as the route out (outbound.ts: a default route via its tap0).
// No iptables and no ip_forward: the node is an endpoint of the veth, the
// proxy and slirp4netns local processes.
//
// What the kernel holds (namespace, veth) outlives the agent like the
// containers do; a state file per allocation (<data_dir>/container/net/
// <alloc>.json, written before anything is created) lets the next agent
// take it up again (ensure: same addresses, listeners re-opened) or remove
// what no allocation of its own uses any more (sweep). Only what those files
// name is ever removed: other agents on the node keep theirs (a slirp4netns
// only by the pid recorded, after checking its cmdline names that namespace).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../core/sdk/index.ts";
import { PortProxy, type PortMap } from "./port-proxy.ts";
import { netNames, pickSubnet, subnetAt, SUBNET_COUNT } from "./subnet.ts";
import { slirpReady, slirpResolvConf, slirpServes, startSlirp, stopSlirp } from "./outbound.ts";

export interface AllocNetwork {
  allocId: string;
  index: number;
  hostIp: string;
  containerIp: string;
  ns: string;
  hostIf: string;
  /** What runc joins: linux.namespaces [{ type: "network", path }]. */
  nsPath: string;
  /** The allocation's slirp4netns (its route out), when container_outbound. */
  slirpPid?: number;
  /** With a route out: the host file given to the container as /etc/resolv.conf (slirp's DNS forwarder). */
  resolvConf?: string;
}

const NETNS_DIR = "/run/netns";

function ip(args: string[]): { ok: boolean; err: string } {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: 30_000 });
  return { ok: r.status === 0, err: (r.stderr ?? r.error?.message ?? "").trim() };
}

function must(args: string[]): void {
  const r = ip(args);
  if (!r.ok) throw new Error(`ip ${args.join(" ")}: ${r.err}`);
}

/** Indexes of 10.213.x.y/30 subnets already on the node's interfaces (other agents' allocations too). */
function subnetsInUse(): Set<number> {
  const used = new Set<number>();
  const r = spawnSync("ip", ["-o", "-4", "addr", "show"], { encoding: "utf8", timeout: 30_000 });
  for (const m of (r.stdout ?? "").matchAll(/inet 10\.213\.(\d+)\.(\d+)\//g)) used.add(Math.floor((Number(m[1]) * 256 + Number(m[2])) / 4));
  return used;
}

export class ContainerNetworks {
  private live = new Map<string, { net: AllocNetwork; proxy: PortProxy }>();
  private pending = new Map<string, Promise<AllocNetwork>>();

  /** `slirp`: the slirp4netns binary giving each network a route out (outbound.ts), or none. */
  constructor(private dir: string, private listenHost: string, private log: Logger, private slirp?: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private stateFile(allocId: string): string {
    return join(this.dir, `${allocId}.json`);
  }

  private recorded(): AllocNetwork[] {
    const out: AllocNetwork[] = [];
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith(".json")) continue;
      try {
        out.push(JSON.parse(readFileSync(join(this.dir, f), "utf8")) as AllocNetwork);
      } catch {
        rmSync(join(this.dir, f), { force: true }); // half written: its allocation sets up again
      }
    }
    return out;
  }

  /**
   * The allocation's network, made (or taken up after an agent restart) and
   * its host ports proxied; once per allocation, later calls get the same.
   */
  ensure(allocId: string, maps: readonly PortMap[]): Promise<AllocNetwork> {
    const known = this.pending.get(allocId);
    if (known) return known;
    const p = (async () => {
      const { net, fresh } = this.setUp(allocId);
      await this.routeOut(net, fresh);
      const proxy = new PortProxy(this.listenHost, net.containerIp, this.log);
      this.live.set(allocId, { net, proxy });
      await proxy.open(maps);
      return net;
    })();
    this.pending.set(allocId, p);
    p.catch(() => this.pending.delete(allocId));
    return p;
  }

  /** The kernel part, synchronous (so two allocations never pick one subnet). */
  private setUp(allocId: string): { net: AllocNetwork; fresh: boolean } {
    const names = netNames(allocId);
    const nsPath = join(NETNS_DIR, names.ns);
    const file = this.stateFile(allocId);
    if (existsSync(file)) {
      try {
        const net = JSON.parse(readFileSync(file, "utf8")) as AllocNetwork;
        if (existsSync(nsPath) && existsSync(`/sys/class/net/${names.hostIf}`)) return { net, fresh: false }; // an earlier agent's: as it was
      } catch {}
      this.tearDown(allocId); // half made (the agent died setting it up): again from scratch
    }
    const used = subnetsInUse();
    for (const n of this.recorded()) used.add(n.index);
    const sub = pickSubnet(allocId, used);
    const net: AllocNetwork = { allocId, index: sub.index, hostIp: sub.hostIp, containerIp: sub.containerIp, ns: names.ns, hostIf: names.hostIf, nsPath };
    writeFileSync(file, JSON.stringify(net), { mode: 0o600 }); // first: a crash from here on leaves something sweep finds
    try {
      must(["netns", "add", names.ns]);
      must(["link", "add", names.hostIf, "type", "veth", "peer", "name", names.peerIf]);
      must(["link", "set", names.peerIf, "netns", names.ns]);
      must(["-n", names.ns, "link", "set", names.peerIf, "name", "eth0"]);
      must(["-n", names.ns, "addr", "add", `${sub.containerIp}/30`, "dev", "eth0"]);
      must(["-n", names.ns, "link", "set", "lo", "up"]);
      must(["-n", names.ns, "link", "set", "eth0", "up"]);
      // No default route: with nothing forwarded it would lead only to the node's own addresses (all of
      // them, the host accepting any of its addresses on any interface); the /30 reaches the node's end alone.
      // The host end: no IPv6 link-local address (the container would reach [::] listeners of the node by it).
      try {
        writeFileSync(`/proc/sys/net/ipv6/conf/${names.hostIf}/disable_ipv6`, "1");
      } catch {}
      must(["addr", "add", `${sub.hostIp}/30`, "dev", names.hostIf]);
      must(["link", "set", names.hostIf, "up"]);
    } catch (err) {
      this.tearDown(allocId);
      throw err;
    }
    return { net, fresh: true };
  }

  /**
   * The route out: the slirp4netns an earlier agent started for this
   * namespace when it still runs (its pid in the state file, its cmdline
   * naming the namespace), else a new one, its pid recorded before waiting.
   */
  private async routeOut(net: AllocNetwork, fresh: boolean): Promise<void> {
    if (!this.slirp) return;
    const file = this.stateFile(net.allocId);
    if (!slirpServes(net.slirpPid, net.nsPath)) {
      net.slirpPid = startSlirp(this.slirp, net.nsPath, join(this.dir, `${net.allocId}.slirp.log`));
      writeFileSync(file, JSON.stringify(net), { mode: 0o600 }); // before the wait: a crash leaves it findable
      try {
        await slirpReady(net.ns, net.slirpPid, net.nsPath);
      } catch (err) {
        let log = "";
        try {
          log = readFileSync(join(this.dir, `${net.allocId}.slirp.log`), "utf8").slice(-500);
        } catch {}
        const why = `${(err as Error).message}${log ? `: ${log.trim()}` : ""}`;
        stopSlirp(net.slirpPid, net.nsPath);
        if (fresh) {
          this.tearDown(net.allocId); // nothing runs in it yet: the start fails, and says why
          throw new Error(why);
        }
        // Taken up with containers running in it: they keep their network (and port proxy), without a route out.
        this.log.warn("container: the allocation's route out could not be started again", { alloc: net.allocId, err: why });
        delete net.slirpPid;
        writeFileSync(file, JSON.stringify(net), { mode: 0o600 });
        return;
      }
    }
    // Read by runc at each start, bind-mounted read-only: written again at every take-up (the node's search lines may change).
    net.resolvConf = join(this.dir, `${net.allocId}.resolv.conf`);
    let host = "";
    try {
      host = readFileSync("/etc/resolv.conf", "utf8");
    } catch {}
    writeFileSync(net.resolvConf, slirpResolvConf(host), { mode: 0o644 });
    writeFileSync(file, JSON.stringify(net), { mode: 0o600 });
  }

  /** The allocation is over: its listeners close, its slirp4netns, namespace and veth pair go. */
  release(allocId: string): void {
    this.live.get(allocId)?.proxy.close();
    this.live.delete(allocId);
    this.pending.delete(allocId);
    this.tearDown(allocId);
  }

  private tearDown(allocId: string): void {
    const names = netNames(allocId);
    // Its slirp4netns first (it holds the namespace's tap device): only the recorded pid, and only if still that helper.
    try {
      const rec = JSON.parse(readFileSync(this.stateFile(allocId), "utf8")) as AllocNetwork;
      stopSlirp(rec.slirpPid, rec.nsPath);
    } catch {}
    // Deleting the namespace takes its end of the pair, and with it the host's end (once no process holds it).
    if (existsSync(join(NETNS_DIR, names.ns))) {
      const r = ip(["netns", "del", names.ns]);
      if (!r.ok) this.log.warn("container: could not remove a network namespace", { ns: names.ns, err: r.err });
    }
    if (existsSync(`/sys/class/net/${names.hostIf}`)) ip(["link", "del", names.hostIf]);
    for (const f of [`${allocId}.slirp.log`, `${allocId}.resolv.conf`]) rmSync(join(this.dir, f), { force: true });
    rmSync(this.stateFile(allocId), { force: true });
  }

  /** At start: networks an earlier agent left for allocations that are not `keep` (no task of theirs survives) go. */
  sweep(keep: ReadonlySet<string>): string[] {
    const removed: string[] = [];
    for (const n of this.recorded()) {
      if (keep.has(n.allocId)) continue;
      this.tearDown(n.allocId);
      removed.push(n.allocId);
    }
    return removed;
  }

  /** The agent stops: listeners close with it; namespaces stay for the containers and the next agent. */
  detach(): void {
    for (const { proxy } of this.live.values()) proxy.close();
    this.live.clear();
    this.pending.clear();
  }
}

export { SUBNET_COUNT, subnetAt };
