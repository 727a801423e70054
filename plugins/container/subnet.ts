// Addresses of an allocation's container network, pure: each allocation
// gets a /30 of 10.213.0.0/16 (16384 of them), the host end of its veth
// pair .1 and the container .2. The first choice is a hash of the
// allocation id (stable, so an agent restart finds the same one), then the
// next free one.
import { createHash } from "node:crypto";

export const SUBNET_COUNT = 16384;

export interface AllocSubnet {
  index: number;
  hostIp: string;
  containerIp: string;
}

export function subnetAt(index: number): AllocSubnet {
  const base = index * 4; // offset in 10.213.0.0/16
  const ip = (n: number) => `10.213.${(base + n) >> 8}.${(base + n) & 255}`;
  return { index, hostIp: ip(1), containerIp: ip(2) };
}

/** The allocation's subnet: its hash's, else the next one not in `used` (indexes); throws when all are taken. */
export function pickSubnet(allocId: string, used: ReadonlySet<number>): AllocSubnet {
  const start = createHash("sha256").update(allocId).digest().readUInt32BE(0) % SUBNET_COUNT;
  for (let i = 0; i < SUBNET_COUNT; i++) {
    const index = (start + i) % SUBNET_COUNT;
    if (!used.has(index)) return subnetAt(index);
  }
  throw new Error("no free container subnet on this node (10.213.0.0/16 is used up)");
}

/** The kernel's names: the namespace (/run/netns/<ns>) and the host end of the veth pair (at most 15 characters). */
export function netNames(allocId: string): { ns: string; hostIf: string; peerIf: string } {
  const short = allocId.replace(/[^0-9a-zA-Z]/g, "").slice(0, 11);
  return { ns: `corral-${allocId}`, hostIf: `crl${short}`, peerIf: `crp${short}` };
}
