// Load-balancing strategies: pure choices over a list of candidates, with the
// random source injected so tests are deterministic.
//
// `ok(e)` says whether a candidate may take this request (not ejected, not
// already tried by this call); a balancer never returns one that fails it.
// The list is the service's passing instances in catalog order; it changes
// only when the catalog does, so per-instance state (the weighted cursor)
// lives on the candidate objects, not in maps keyed by them.
import type { Strategy } from "./config.ts";

export interface Candidate {
  /** Requests sent to it that have not had their response headers yet. */
  inflight: number;
  /** Consul's Weights.Passing (>= 1). */
  weight: number;
  /** Smooth weighted round robin's running weight (owned by the weighted balancer). */
  swrr: number;
}

export interface Balancer {
  readonly strategy: Strategy;
  pick<T extends Candidate>(list: readonly T[], ok: (e: T) => boolean): T | undefined;
}

export type Rng = () => number;

/** Each candidate in turn, skipping those `ok` refuses. */
export function roundRobin(): Balancer {
  let next = 0;
  return {
    strategy: "round_robin",
    pick(list, ok) {
      const n = list.length;
      for (let i = 0; i < n; i++) {
        const at = (next + i) % n;
        const e = list[at]!;
        if (ok(e)) {
          next = (at + 1) % n;
          return e;
        }
      }
      return undefined;
    },
  };
}

/** The fewest outstanding requests; ties broken at random so idle instances share the load. */
export function leastRequest(rng: Rng): Balancer {
  return {
    strategy: "least_request",
    pick(list, ok) {
      let best: (typeof list)[number] | undefined;
      let ties = 0;
      for (const e of list) {
        if (!ok(e)) continue;
        if (!best || e.inflight < best.inflight) {
          best = e;
          ties = 1;
        } else if (e.inflight === best.inflight && rng() * ++ties < 1) {
          best = e; // reservoir sampling: each tied candidate with probability 1/ties
        }
      }
      return best;
    },
  };
}

/**
 * Power of two choices (Mitzenmacher): two distinct candidates at random, the
 * one with fewer outstanding requests wins. Nearly as good as least-request
 * without a full scan, and it avoids herding onto one "least" instance.
 */
export function powerOfTwo(rng: Rng): Balancer {
  return {
    strategy: "p2c",
    pick(list, ok) {
      const n = list.length;
      if (n === 0) return undefined;
      if (n === 1) return ok(list[0]!) ? list[0] : undefined;
      const i = Math.floor(rng() * n);
      let j = Math.floor(rng() * (n - 1));
      if (j >= i) j++;
      const a = list[i]!;
      const b = list[j]!;
      const okA = ok(a);
      const okB = ok(b);
      if (okA && okB) return b.inflight < a.inflight ? b : a;
      // One or both refused (ejected, already tried): choose among the rest.
      const rest = list.filter(ok);
      if (rest.length <= 2) return rest.length === 2 ? (rest[1]!.inflight < rest[0]!.inflight ? rest[1] : rest[0]) : rest[0];
      return this.pick(rest, () => true);
    },
  };
}

/**
 * Smooth weighted round robin (nginx): every pick adds each candidate's
 * weight to its running weight, takes the largest and subtracts the total
 * from it. Over any window of sum(weights) picks each candidate gets exactly
 * its weight, interleaved rather than in bursts.
 */
export function weighted(): Balancer {
  return {
    strategy: "weighted",
    pick(list, ok) {
      let best: (typeof list)[number] | undefined;
      let total = 0;
      for (const e of list) {
        if (!ok(e)) continue;
        e.swrr += e.weight;
        total += e.weight;
        if (!best || e.swrr > best.swrr) best = e;
      }
      if (best) best.swrr -= total;
      return best;
    },
  };
}

export function createBalancer(strategy: Strategy, rng: Rng): Balancer {
  switch (strategy) {
    case "round_robin":
      return roundRobin();
    case "least_request":
      return leastRequest(rng);
    case "p2c":
      return powerOfTwo(rng);
    case "weighted":
      return weighted();
  }
}
