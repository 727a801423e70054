// Seeded node orders. A NodeOrder is a permutation of a list of node
// positions drawn lazily (Fisher–Yates one step per visited slot), so an
// evaluation that looks at 30 nodes out of 10,000 pays for 30 draws, not a
// full shuffle. A cursor carries on between placements and wraps around
// after `size` visits, after which the same permutation repeats.

import type { Rng } from "./types.ts";

export interface NodeOrder {
  /** Node positions to permute; null means all positions 0..size-1. */
  list: Int32Array | null;
  size: number;
  /** perm[i] = slot + 1, or 0 for "still slot i" (so a fresh Int32Array is the identity). */
  perm: Int32Array;
  drawn: number;
  cursor: number;
}

export function newOrder(size: number, list: Int32Array | null = null): NodeOrder {
  return { list, size, perm: new Int32Array(size), drawn: 0, cursor: 0 };
}

/** The next node position; callers stop after `size` calls for one full pass. */
export function nextInOrder(o: NodeOrder, rng: Rng): number {
  const perm = o.perm;
  const n = o.size;
  const i = o.cursor % n;
  o.cursor++;
  if (i === o.drawn) {
    // Draw slot i: swap it with a random not-yet-drawn slot j ≥ i.
    const j = i + Math.floor(rng() * (n - i));
    const vi = perm[i] === 0 ? i : perm[i]! - 1;
    const vj = perm[j] === 0 ? j : perm[j]! - 1;
    perm[i] = vj + 1;
    perm[j] = vi + 1;
    o.drawn++;
  }
  const slot = perm[i] === 0 ? i : perm[i]! - 1;
  return o.list === null ? slot : o.list[slot]!;
}
