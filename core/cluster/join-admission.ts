// Join admission on the Raft leader (leader.max_joins_in_flight).
//
// A join that writes (a new node, a returning down node, a changed
// registration) is a Raft entry. 10,000 agents booting within a second used
// to queue all their joins in the leader: it answered slower than their RPC
// timeout, each timed-out join was retried while the leader still worked on
// the first, and its memory grew with the queue. Now the leader works on at
// most `maxInFlight` joins at once and answers the rest at once with 429 and
// Retry-After, so the backlog waits at the agents' side.
//
// Retry-After is a ticket, not a constant: the refused joins are given
// consecutive slots at the rate the leader completes joins, so their retries
// come back spread over the backlog instead of together. The rate is the
// higher of the most joins completed in one second over the last 30 s and
// an optimistic floor: the in-flight bound per 100 ms (or per the mean join
// time, when shorter), at most ASSUMED_RATE_CAP. The floor is there because
// a rate measured at the start of a burst reads low: the first joins wait
// behind thousands of refusals on the event loop (at 10,000 agents they
// took 3.2 s at that moment); slots spread at that rate went out 70 s
// ahead, and the leader then sat idle at a peak of 723 joins/s while the
// agents waited for them (82-323 s to join them all, against 35 s with no
// admission). Too high a rate costs less, a retry that comes back early is
// refused again, but not nothing: told 1 s all at once (a floor of
// 2,560-5,120/s), 10,000 agents sent 360,000-670,000 refusals and joined in
// 194-323 s. Hence the cap.
//
// A node that asks again before its slot gets the time left on the same ticket, so an agent that ignores
// Retry-After (an earlier release, backing off on its own) does not push
// everyone else's slot further out.
//
// Only signed requests reach this (the cluster-auth middleware refuses an
// unsigned one before reading its body): a caller without the cluster
// secret cannot take a slot or a ticket. Pure: the clock is passed in.

/** The longest join time the rate assumes (and the first guess): the rate is never taken below the bound per this. */
const ASSUMED_JOIN_MS = 100;
/** Weight of the newest join time in the running mean. */
const ALPHA = 0.2;
/** The longest wait told: a wrong estimate must not park an agent for long (the agent caps what it honours too). */
export const MAX_RETRY_AFTER_S = 300;
/** Tickets kept at most (one per refused node); past it a refusal is answered without remembering it. */
const MAX_TICKETS = 200_000;
/** The floor's ceiling, joins/s: about what one leader completed at best on the 2-core machine (peak seconds of 384-723 in 10,000-agent bursts). */
const ASSUMED_RATE_CAP = 640;
/** Seconds of completions remembered for the peak rate. */
const PEAK_WINDOW_S = 30;

export type Admission =
  | { admitted: true; /** Call once when the join has finished, whatever its outcome. */ done(): void }
  | { admitted: false; /** Whole seconds, at least 1 (the Retry-After header). */ retryAfterS: number; inFlight: number; backlog: number };

export class JoinAdmission {
  private inFlight = 0;
  private joinMs = ASSUMED_JOIN_MS;
  /** When the next refused node is told to come back (ms, this clock). */
  private nextSlot = 0;
  /** node id → the time it was told to come back. */
  private tickets = new Map<string, number>();
  private pruneAt = 1024;
  /** Joins completed per second, the last PEAK_WINDOW_S seconds (a ring indexed by second). */
  private completed = new Array<number>(PEAK_WINDOW_S).fill(0);
  private second = -Infinity;

  constructor(
    private readonly maxInFlight: number,
    private readonly now: () => number = Date.now,
  ) {}

  admit(nodeId: string): Admission {
    const now = this.now();
    if (this.inFlight < this.maxInFlight) {
      this.inFlight++;
      this.tickets.delete(nodeId);
      let finished = false;
      return {
        admitted: true,
        done: () => {
          if (finished) return;
          finished = true;
          this.inFlight--;
          const end = this.now();
          this.joinMs += ALPHA * (Math.max(1, end - now) - this.joinMs);
          this.advance(end);
          this.completed[slotOf(this.second)]!++;
        },
      };
    }
    const held = this.tickets.get(nodeId);
    let at: number;
    if (held !== undefined && held > now) {
      at = held; // asked again before its slot: the same ticket
    } else {
      // One slot per refused node at the rate joins complete, after those already given.
      this.nextSlot = Math.min(Math.max(this.nextSlot, now) + 1000 / this.rate(), now + MAX_RETRY_AFTER_S * 1000);
      at = this.nextSlot;
      this.remember(nodeId, at, now);
    }
    const retryAfterS = Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil((at - now) / 1000)));
    return { admitted: false, retryAfterS, inFlight: this.inFlight, backlog: this.backlog() };
  }

  /** Joins the leader completes per second, erring high: the best recent second, or in flight over the time one takes (at most ASSUMED_JOIN_MS, the result at most ASSUMED_RATE_CAP). */
  private rate(): number {
    this.advance(this.now());
    const floor = Math.min(ASSUMED_RATE_CAP, (this.maxInFlight * 1000) / Math.min(this.joinMs, ASSUMED_JOIN_MS));
    return Math.max(floor, Math.max(...this.completed));
  }

  /** Moves the completion ring to the second of `t`, clearing the seconds passed. */
  private advance(t: number): void {
    const sec = Math.floor(t / 1000);
    if (sec <= this.second) return;
    const gap = Math.min(PEAK_WINDOW_S, sec - this.second);
    for (let i = 1; i <= gap; i++) this.completed[slotOf(sec - gap + i)] = 0;
    this.second = sec;
  }

  private backlog(): number {
    return Math.max(0, Math.round(((this.nextSlot - this.now()) * this.rate()) / 1000));
  }

  private remember(nodeId: string, at: number, now: number): void {
    if (this.tickets.size >= this.pruneAt) {
      for (const [id, t] of this.tickets) if (t <= now) this.tickets.delete(id);
      this.pruneAt = Math.max(1024, this.tickets.size * 2);
    }
    if (this.tickets.size < MAX_TICKETS) this.tickets.set(nodeId, at);
  }
}

const slotOf = (second: number) => ((second % PEAK_WINDOW_S) + PEAK_WINDOW_S) % PEAK_WINDOW_S;
