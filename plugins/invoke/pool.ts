// One service's passing instances as the balancer and the breakers see them.
//
// Endpoint objects are kept across catalog updates by key (node/service ID),
// so an instance's outstanding count and breaker survive an unrelated
// change; one that leaves the passing set is dropped with its state.
import { createBalancer, type Balancer, type Rng } from "./balancer.ts";
import type { Strategy } from "./config.ts";
import * as breaker from "./outlier.ts";

/** A passing instance as the catalog describes it. */
export interface EndpointSpec {
  /** `<node id>/<service id>`: unique in the cluster. */
  key: string;
  node: string;
  serviceId: string;
  /** Host to connect to (service address, else node address). */
  address: string;
  /** The address of the node the instance is registered on: where the mesh reaches its agent (docs/mesh.md). */
  nodeAddress?: string;
  port: number;
  /** Weights.Passing. */
  weight: number;
}

export class Endpoint {
  inflight = 0;
  swrr = 0;
  /** "http://host:port" (fetch) and "host:port" (the Host sent upstream). */
  readonly base: string;
  readonly hostPort: string;
  /** "host: <hostPort>\r\n": the Host line of a head sent to it (fast/upstream.ts), made once. */
  readonly hostLine: string;
  /** hostLine encoded, made by the raw-socket engine on first use (fast/upstream.ts hostLines). */
  hostLineBytes: Uint8Array | null = null;
  readonly weight: number;
  readonly breaker: breaker.BreakerState;
  /** Attempts by outcome (metrics.ts CODES); exported when /metrics is scraped. */
  readonly counts = new Float64Array(7);

  constructor(
    readonly spec: EndpointSpec,
    now: number,
  ) {
    const host = spec.address.includes(":") ? `[${spec.address}]` : spec.address;
    this.hostPort = `${host}:${spec.port}`;
    this.base = `http://${this.hostPort}`;
    this.hostLine = `host: ${this.hostPort}\r\n`;
    this.weight = Math.max(1, spec.weight);
    this.breaker = breaker.newBreaker(now);
  }

  /** The label Prometheus and the API show: service ID on node. */
  get label(): string {
    return `${this.spec.serviceId}@${this.spec.node}`;
  }
}

export interface PoolConfig extends breaker.OutlierConfig {
  maxEjectionPercent: number;
}

export class ServicePool {
  endpoints: Endpoint[] = [];
  private balancer: Balancer;
  // Reused by pick() so a pick allocates nothing (see okFn).
  private pickNow = 0;
  private pickTried: Endpoint[] | null = null;
  private readonly okFn = (e: Endpoint): boolean =>
    breaker.available(e.breaker, this.pickNow) && (this.pickTried === null || !this.pickTried.includes(e));

  constructor(
    strategy: Strategy,
    private readonly rng: Rng,
    private readonly cfg: PoolConfig,
  ) {
    this.balancer = createBalancer(strategy, rng);
  }

  get strategy(): Strategy {
    return this.balancer.strategy;
  }

  setStrategy(strategy: Strategy): void {
    if (strategy !== this.balancer.strategy) this.balancer = createBalancer(strategy, this.rng);
  }

  /** Replaces the passing set; returns the endpoints that left (their metrics can go). */
  update(specs: readonly EndpointSpec[], now: number): Endpoint[] {
    const old = new Map(this.endpoints.map((e) => [e.spec.key, e]));
    const next: Endpoint[] = [];
    for (const s of specs) {
      const have = old.get(s.key);
      if (have && sameTarget(have.spec, s)) {
        next.push(have);
        old.delete(s.key);
      } else {
        next.push(new Endpoint(s, now));
      }
    }
    this.endpoints = next;
    return [...old.values()];
  }

  /**
   * An instance for the next attempt, avoiding ejected ones and, while
   * others remain, those this call already tried. Marks a half-open pick as
   * the probe.
   */
  pick(now: number, tried: Endpoint[] | null): Endpoint | undefined {
    this.pickNow = now;
    this.pickTried = tried && tried.length ? tried : null;
    let e = this.balancer.pick(this.endpoints, this.okFn);
    if (!e && this.pickTried) {
      this.pickTried = null; // every instance tried: a second go at one beats giving up
      e = this.balancer.pick(this.endpoints, this.okFn);
    }
    this.pickTried = null;
    if (e) breaker.picked(e.breaker, now);
    return e;
  }

  /** `now`: the time, or the clock to read it from when needed (outlier.ts succeeded). */
  succeeded(e: Endpoint, now: number | (() => number)): void {
    breaker.succeeded(e.breaker, now, this.cfg);
  }

  /** Returns true when this failure ejected the instance. */
  failed(e: Endpoint, now: number): boolean {
    return breaker.failed(e.breaker, now, this.cfg, () => this.ejectedCount() < breaker.ejectionCap(this.endpoints.length, this.cfg.maxEjectionPercent));
  }

  abandoned(e: Endpoint): void {
    breaker.abandoned(e.breaker);
  }

  ejectedCount(): number {
    let n = 0;
    for (const e of this.endpoints) if (breaker.isEjected(e.breaker)) n++;
    return n;
  }
}

function sameTarget(a: EndpointSpec, b: EndpointSpec): boolean {
  return a.address === b.address && a.port === b.port && a.weight === b.weight;
}
