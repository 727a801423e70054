// This node's side of the mesh's identities (docs/mesh.md): the CA's trusted
// roots, kept fresh, and a leaf certificate per calling service, made on
// first need and renewed at half its life (before it can expire mid-use).
// Key pairs are made on this node (host.meshCa); only public keys travel.
import type { LeafWithKey, MeshCaAccess, RootsView } from "../../core/sdk/index.ts";

export interface Trust {
  trustDomain: string;
  /** Every trusted root, then the intermediates (cross-signed roots) a chain may need. */
  ca: string[];
  /** Changes with the set of roots: the listener's TLS context is rebuilt when it does. */
  version: string;
}

export interface LeafPair {
  cert: string;
  key: string;
  service: string;
  /** ms since the epoch */
  notAfter: number;
  /** ms since the epoch: past this a new leaf is made, and pooled connections made with this one are not reused. */
  renewAt: number;
}

interface LeafSlot {
  leaf?: LeafPair;
  renewAt: number;
  pending?: Promise<LeafPair>;
}

/** Roots as TLS wants them: roots and intermediates in one list. */
export function trustOf(roots: RootsView): Trust {
  const ca = [...roots.Roots.map((r) => r.RootCert), ...roots.Roots.flatMap((r) => r.IntermediateCerts)];
  return { trustDomain: roots.TrustDomain, ca, version: `${roots.ActiveRootID}:${roots.Roots.map((r) => r.ID).join(",")}` };
}

export class MeshIdentity {
  private trust?: Trust;
  private trustPending?: Promise<Trust>;
  private readonly leaves = new Map<string, LeafSlot>();

  constructor(
    private readonly ca: MeshCaAccess,
    private readonly leafTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The trusted roots: the last read, or the first (waited for). */
  async roots(): Promise<Trust> {
    return this.trust ?? (await this.refreshRoots());
  }

  /** Reads the roots again (a rotation adds one); concurrent callers share one read. */
  refreshRoots(): Promise<Trust> {
    this.trustPending ??= this.ca.roots().then(
      (r) => {
        this.trustPending = undefined;
        return (this.trust = trustOf(r));
      },
      (err) => {
        this.trustPending = undefined;
        throw err;
      },
    );
    return this.trustPending;
  }

  /** The leaf `service` calls with; a fresh one once past half its life (the old one serves while it is made). */
  async leaf(service: string): Promise<LeafPair> {
    const name = service.toLowerCase();
    let slot = this.leaves.get(name);
    if (!slot) this.leaves.set(name, (slot = { renewAt: 0 }));
    const now = this.now();
    if (slot.leaf && now < slot.renewAt) return slot.leaf;
    if (!slot.pending) {
      const s = slot;
      s.pending = this.ca.leaf(name, this.leafTtlMs).then(
        (l: LeafWithKey) => {
          const notAfter = Date.parse(l.ValidBefore);
          s.renewAt = now + (notAfter - now) / 2;
          s.leaf = { cert: l.CertPEM, key: l.PrivateKeyPEM, service: name, notAfter, renewAt: s.renewAt };
          s.pending = undefined;
          return s.leaf;
        },
        (err) => {
          s.pending = undefined;
          throw err;
        },
      );
      s.pending.catch(() => {}); // a renewal that fails while the old leaf serves is retried by the next call
    }
    // A valid leaf keeps serving while its renewal is under way.
    if (slot.leaf && now < slot.leaf.notAfter - 5000) return slot.leaf;
    return slot.pending!;
  }

  /** Expired leaves (no call renewed them: the service stopped calling) are dropped, their keys with them. */
  sweep(): void {
    const now = this.now();
    for (const [name, slot] of this.leaves) if (slot.leaf && now > slot.leaf.notAfter && !slot.pending) this.leaves.delete(name);
  }
}
