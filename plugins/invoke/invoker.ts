// One call, whatever carries it: find the service, check intentions, then
// attempts — pick an instance, send, judge the answer, maybe retry elsewhere
// after a backoff — until an answer worth returning, the retry rules say
// stop, or the deadline.
//
// The transport (fetch.ts for the API route and the portable listener,
// fast/ for the raw-socket listener) only sends one attempt and reports its
// answer's status or why there is none; breakers, budget, metrics and
// retries are decided here, the same for both.
//
// The loop is driven by callbacks, not promises: on the raw-socket listener
// an answer's head arrives in the instance socket's data callback and goes
// on to the client in that same callback, with no promise or microtask hop
// per request (docs/invoke.md, "Performance"). `run` wraps it in a promise
// for the fetch front.
//
// Timeouts end at the response headers: the body (a large download, an
// event stream) then flows for as long as both sides keep it open.
import type { Logger } from "../../core/sdk/index.ts";
import type { Rng } from "./balancer.ts";
import type { CallAuthorizer } from "./authorize.ts";
import type { InvokeConfig } from "./config.ts";
import { CODE_ERROR, CODE_TIMEOUT, codeSlot, type ErrorKind, type InvokeMetrics } from "./metrics.ts";
import type { Endpoint } from "./pool.ts";
import { backoffMs, retryable, type FailureKind, type RetryRules } from "./retry.ts";
import { TooManyServicesError, type ServiceEntry, type ServiceRegistry } from "./services.ts";
import type { CallSpan, CallSpans } from "./spans.ts";

/** What corral answers itself (JSON `{ error, code, ...extra }`). */
export class Refusal {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
    readonly extra?: Record<string, unknown>,
  ) {}

  json(): string {
    return JSON.stringify({ error: this.message, code: this.code, ...this.extra });
  }
}

/** An instance's answer as far as the call loop cares: its status. */
export interface Reply {
  status: number;
}

export interface Transport<R extends Reply> {
  /**
   * Sends one attempt; calls `settle` once, at the response headers (or with
   * why there are none) within tryMs. It may call it before returning.
   */
  send(ep: Endpoint, tryMs: number, settle: (out: R | FailureKind) => void): void;
  /** A reply that will not be returned (it is being retried): release it. */
  discard(r: R): void;
}

export interface CallSpec {
  svc: ServiceEntry;
  method: string;
  /** The body may be sent more than once. */
  replayable: boolean;
  timeoutMs: number;
  tryMs: number;
  /** performance.now() when the call arrived. */
  started: number;
  /** The client went away. */
  aborted(): boolean;
}

export interface InvokerDeps {
  cfg: InvokeConfig;
  registry: ServiceRegistry;
  metrics: InvokeMetrics;
  authorizer: CallAuthorizer;
  /** Wall clock in ms (breakers, budget, deadlines). */
  now: () => number;
  rng: Rng;
  sleep: (ms: number) => Promise<void>;
  log: Logger;
  /** Span per call for OTLP export (spans.ts); absent when export is off. */
  spans?: CallSpans;
}

export class Invoker {
  readonly cfg: InvokeConfig;
  private readonly rules: RetryRules;
  /** 1 at [status - 500] for the statuses retried. */
  readonly retryStatus = new Uint8Array(100);

  constructor(readonly d: InvokerDeps) {
    this.cfg = d.cfg;
    this.rules = { methods: new Set(d.cfg.retry_methods) };
    for (const s of d.cfg.retry_statuses) this.retryStatus[s - 500] = 1;
  }

  /**
   * The service to call, or why the call cannot go ahead (unknown, catalog
   * down, denied). Synchronous in the common case (service known, ACLs off):
   * no promise per call.
   */
  admit(name: string, token: string | undefined, started: number): ServiceEntry | Refusal | Promise<ServiceEntry | Refusal> {
    let svc: ServiceEntry;
    try {
      svc = this.d.registry.acquire(name);
    } catch (err) {
      if (!(err instanceof TooManyServicesError)) throw err;
      return this.refuse(undefined, started, 503, "too_many_services", "TOO_MANY_SERVICES", err.message);
    }
    if (!svc.loaded) return this.admitFirstView(svc, name, token, started);
    return this.admitLoaded(svc, name, token, started);
  }

  // Closures of the slower paths in functions of their own: a function whose variables a
  // closure captures allocates their scope on every call, whichever path it takes.

  private admitFirstView(svc: ServiceEntry, name: string, token: string | undefined, started: number): Promise<ServiceEntry | Refusal> {
    return this.firstView(svc).then(() => this.admitLoaded(svc, name, token, started));
  }

  private admitLoaded(svc: ServiceEntry, name: string, token: string | undefined, started: number): ServiceEntry | Refusal | Promise<ServiceEntry | Refusal> {
    if (!svc.loaded) {
      const why = svc.loadError ? `: ${(svc.loadError as Error).message ?? svc.loadError}` : "";
      return this.refuse(svc, started, 503, "catalog", "CATALOG_UNAVAILABLE", `the catalog could not be read${why}`);
    }
    if (!svc.exists) return this.refuse(undefined, started, 404, "unknown_service", "UNKNOWN_SERVICE", `no service named "${name}" in the catalog`);
    if (!this.d.authorizer.enabled()) return svc;
    return this.authorized(svc, token, started);
  }

  private authorized(svc: ServiceEntry, token: string | undefined, started: number): Promise<ServiceEntry | Refusal> {
    return Promise.resolve(this.d.authorizer.authorizeCall(token, svc.name)).then((decision) =>
      decision.allowed
        ? svc
        : this.refuse(svc, started, 403, "denied", "INTENTION_DENIED", `calling "${svc.name}" is not allowed: ${decision.reason}`, { reason: decision.reason }),
    );
  }

  /** A call corral refuses before any attempt (a body too large, a bad request). */
  refuse(svc: ServiceEntry | undefined, started: number, status: number, kind: ErrorKind, code: string, message: string, extra?: Record<string, unknown>): Refusal {
    // Unknown names come from clients: one label for all of them keeps /metrics bounded.
    this.d.metrics.error(svc ? svc.name : "(unknown)", kind);
    if (svc) this.d.metrics.observe(svc, (performance.now() - started) / 1000);
    return new Refusal(status, code, message, extra);
  }

  /** The attempt loop as a promise: the reply to pass on, or corral's own answer. */
  run<R extends Reply>(c: CallSpec, t: Transport<R>): Promise<R | Refusal> {
    return new Promise((done, fail) => new Call(this, t, fail).start(c, done));
  }

  /** Breaker and metrics for one attempt: 5xx, refused, reset, timeout count against the instance. */
  judge(svc: ServiceEntry, ep: Endpoint, out: Reply | FailureKind): void {
    if (out === "aborted") return svc.pool.abandoned(ep);
    // The caller's protocol, not the instance's health: an HTTP/2 client must not get an HTTP/1.1 instance ejected.
    if (out === "protocol") return svc.pool.abandoned(ep);
    if (typeof out === "string") this.d.metrics.attempt(ep, out === "timeout" ? CODE_TIMEOUT : CODE_ERROR);
    else {
      this.d.metrics.attempt(ep, codeSlot(out.status));
      if (out.status < 500) return svc.pool.succeeded(ep, this.d.now); // read only if the breaker needs it
    }
    if (!svc.pool.failed(ep, this.d.now())) return;
    this.d.metrics.ejected(svc, ep);
    this.d.log.info("invoke: instance ejected", { service: svc.name, instance: ep.label, ejections: ep.breaker.ejections, untilMs: ep.breaker.until });
  }

  mayRetry(c: CallSpec, out: Reply | FailureKind, attempt: number): boolean {
    if (attempt >= c.svc.policy.maxRetries) return false;
    if (!retryable(typeof out === "string" ? out : "status", c.method, c.replayable, this.rules)) return false;
    if (c.aborted()) return false;
    if (c.svc.budget.tryRetry()) return true;
    this.d.metrics.budgetExhausted(c.svc);
    return false;
  }

  finished<R extends Reply>(c: CallSpec, r: R): R {
    this.d.metrics.observe(c.svc, (performance.now() - c.started) / 1000);
    return r;
  }

  /** No attempt left: the last answer if there was one, else corral's own error. */
  giveUp<R extends Reply>(c: CallSpec, last: R | FailureKind): R | Refusal {
    if (typeof last !== "string") return this.finished(c, last);
    const name = c.svc.name;
    if (last === "timeout") return this.refuse(c.svc, c.started, 504, "timeout", "UPSTREAM_TIMEOUT", `service "${name}" did not answer within the timeout`);
    if (last === "aborted") return new Refusal(499, "CLIENT_CLOSED", "the client closed the request");
    if (last === "protocol") return this.refuse(c.svc, c.started, 502, "unavailable", "UPSTREAM_NOT_H2", `no instance of "${name}" speaks HTTP/2 (h2c); call it over HTTP/1.1`);
    return this.refuse(c.svc, c.started, 502, "unavailable", "UPSTREAM_UNAVAILABLE", `no instance of "${name}" could be reached (${last})`);
  }

  private async firstView(svc: ServiceEntry): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([svc.ready, new Promise<void>((r) => (timer = setTimeout(r, svc.policy.timeoutMs)))]);
    clearTimeout(timer);
  }
}

/** `done` that ends `span` first (a closure made only for a call with a span: see Invoker.admitFirstView). */
function endingSpan<R extends Reply>(span: CallSpan, done: (r: R | Refusal) => void): (r: R | Refusal) => void {
  return (r) => (span.end(r), done(r));
}

/**
 * One call's attempts, step by step: pick an instance and send; when the
 * transport settles, judge the outcome and either finish or go again after
 * a backoff. Reusable (start() again once done): a client connection of the
 * raw-socket listener keeps one for all its requests.
 */
export class Call<R extends Reply> {
  private c!: CallSpec;
  private done!: (r: R | Refusal) => void;
  private deadline = 0;
  private attempt = 0;
  private tried: Endpoint[] | null = null;
  private last: R | FailureKind | undefined;
  /** The instance the attempt in flight went to. */
  private ep: Endpoint | null = null;
  /** This call's span (OTLP export on and the call sampled). */
  private span: CallSpan | undefined;
  // The loop's steps run in transport and timer callbacks: a throw there (a bug) goes to `failed`, not into the transport.
  private readonly settled = (out: R | FailureKind): void => {
    try {
      this.outcome(out);
    } catch (err) {
      this.failed(err);
    }
  };
  private readonly again = (): void => {
    try {
      this.next();
    } catch (err) {
      this.failed(err);
    }
  };

  constructor(
    private readonly inv: Invoker,
    private readonly t: Transport<R>,
    /** Where a throw in a step of the loop goes (the call cannot go on). */
    private readonly failed: (err: unknown) => void,
  ) {}

  start(c: CallSpec, done: (r: R | Refusal) => void): void {
    this.c = c;
    // The span's ids are those of the traceparent the front made just before (trace.ts); it ends with the answer.
    const span = (this.span = this.inv.d.spans?.begin(c));
    this.done = span ? endingSpan(span, done) : done;
    this.attempt = 0;
    this.tried = null;
    this.last = undefined;
    // One clock read for the budget's deposit, the deadline and the first pick (the same instant; the
    // budget's clock is the registry's, the same as this one: index.ts).
    const now = this.inv.d.now();
    c.svc.budget.recordRequest(now);
    this.deadline = now + c.timeoutMs;
    this.next(now); // the same instant: one clock read, not two
  }

  private next(now = this.inv.d.now()): void {
    const { c, inv } = this;
    if (now >= this.deadline) return this.done(inv.giveUp(c, this.last ?? "timeout"));
    const ep = c.svc.pool.pick(now, this.tried);
    if (!ep) {
      return this.done(this.last !== undefined ? inv.giveUp(c, this.last) : inv.refuse(c.svc, c.started, 503, "no_instance", "NO_HEALTHY_INSTANCE", `service "${c.svc.name}" has no healthy instance`));
    }
    ep.inflight++;
    this.ep = ep;
    this.span?.attempt(ep);
    this.t.send(ep, Math.min(c.tryMs, this.deadline - now), this.settled); // last: it may settle before returning
  }

  private outcome(out: R | FailureKind): void {
    const { c, inv } = this;
    const ep = this.ep!;
    this.ep = null;
    ep.inflight--;
    inv.judge(c.svc, ep, out);
    if (typeof out !== "string" && !inv.retryStatus[out.status - 500]) return this.done(inv.finished(c, out));
    this.last = out;
    if (!inv.mayRetry(c, out, this.attempt)) return this.done(inv.giveUp(c, out));
    const wait = backoffMs(this.attempt + 1, inv.cfg.backoff_base, inv.cfg.backoff_max, inv.d.rng);
    if (inv.d.now() + wait >= this.deadline) return this.done(inv.giveUp(c, out));
    if (typeof out !== "string") this.t.discard(out);
    inv.d.metrics.retry(c.svc);
    (this.tried ??= []).push(ep);
    this.attempt++;
    if (wait > 0) void inv.d.sleep(wait).then(this.again);
    else this.next();
  }
}
