// Linearizable reads (thesis §6.4, read index): a read waits until the leader
// has confirmed its leadership with a quorum round (Raft hands back a
// ReadState with the commit index of that moment), then until the state
// machine has applied that index. This module keeps the two waiting lists
// (the second also serves writes a follower forwarded: see untilApplied).
import { ReplicationError } from "../../state/replicator.ts";

interface PendingRead {
  resolve: (index: number) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class ReadBarriers {
  private confirming = new Map<string, PendingRead>();
  private applying: { index: number; resolve: () => void }[] = [];
  private seq = 0;

  constructor(private appliedIndex: () => number) {}

  /**
   * Starts a read round: `start(ctx)` asks Raft for a read index and returns
   * a refusal (not the leader, too busy) or undefined when the round began.
   * Resolves with the confirmed read index once it is applied.
   */
  async wait(start: (ctx: string) => ReplicationError | undefined, timeoutMs: number): Promise<number> {
    const ctx = `r${++this.seq}`;
    const index = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.confirming.delete(ctx);
        reject(new ReplicationError("TIMEOUT", "could not confirm leadership with a quorum in time"));
      }, timeoutMs);
      this.confirming.set(ctx, { resolve, reject, timer });
      const refused = start(ctx);
      if (refused) {
        clearTimeout(timer);
        this.confirming.delete(ctx);
        reject(refused);
      }
    });
    await this.untilApplied(index);
    return index;
  }

  /** Raft confirmed leadership for `ctx` at commit index `index`. */
  confirmed(ctx: string, index: number): void {
    const r = this.confirming.get(ctx);
    if (!r) return;
    this.confirming.delete(ctx);
    clearTimeout(r.timer);
    r.resolve(index);
  }

  /**
   * Resolves once the state machine has applied `index` (true), or after
   * `timeoutMs` (false); without a timeout it waits for as long as it takes.
   */
  untilApplied(index: number, timeoutMs?: number): Promise<boolean> {
    if (this.appliedIndex() >= index) return Promise.resolve(true);
    return new Promise((resolve) => {
      const entry = {
        index,
        resolve: () => {
          if (timer !== undefined) clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.applying = this.applying.filter((w) => w !== entry);
        resolve(false);
      }, timeoutMs);
      this.applying.push(entry);
    });
  }

  /** The state machine applied more entries: release the reads they satisfy. */
  applied(): void {
    if (this.applying.length === 0) return;
    const applied = this.appliedIndex();
    const still: typeof this.applying = [];
    for (const w of this.applying) (w.index <= applied ? w.resolve() : still.push(w));
    this.applying = still;
  }

  /** Leadership was lost: reads still being confirmed can never be. */
  lostLeadership(leader: string | undefined): void {
    for (const [ctx, r] of this.confirming) {
      clearTimeout(r.timer);
      r.reject(new ReplicationError("NOT_LEADER", "lost leadership during a consistent read", leader));
      this.confirming.delete(ctx);
    }
  }
}
