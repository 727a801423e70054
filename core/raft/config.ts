// Construction options for a RaftNode, their defaults, and validation.
// validate() returns one plain sentence per broken rule, so a driver can show
// them all at once instead of failing on the first.
import type { PersistedState, RaftInput, RaftLogger } from "./types.ts";

export interface RaftConfig {
  id: string;
  /**
   * Voters (including this node) when the cluster is bootstrapped. Every
   * bootstrapping node must get the same set. A node that joins an existing
   * cluster passes []: it learns the configuration from the leader's log or
   * snapshot. Ignored when `restore` is given: the persisted log decides.
   */
  peers: string[];
  /** Base election timeout; the actual one is drawn from [electionTicks, 2*electionTicks). */
  electionTicks: number;
  /** Leader sends heartbeats every heartbeatTicks; must be < electionTicks. */
  heartbeatTicks: number;
  /** Uniform in [0, 1). The only source of randomness (election timeouts). */
  rng: () => number;
  /** Thesis §9.6. Default true. */
  preVote?: boolean;
  /** Leader steps down without a quorum; followers keep a leader lease (thesis §6.2, §4.2.3). Default true. */
  checkQuorum?: boolean;
  /** Upper bound on entries in one Append message. Default 64. */
  maxEntriesPerAppend?: number;
  /** Upper bound on unacknowledged Append messages per follower in replicate state. Default 64. */
  maxInflightAppends?: number;
  /** Upper bound on committedEntries in one Ready, so one Ready cannot hold a huge backlog. Default 1024. */
  maxCommittedPerReady?: number;
  /** Upper bound on read requests waiting for leadership confirmation. Default 4096. */
  maxPendingReads?: number;
  logger?: RaftLogger;
  /** What the node persisted before it stopped, exactly as handed out by Ready. */
  restore?: PersistedState;
  /**
   * Highest index the application's durable state already reflects (default:
   * the snapshot index, meaning "replay everything after the snapshot").
   */
  applied?: number;
  /**
   * Deliberately broken variants of the algorithm, ONLY for the simulator's
   * test of itself (test/sim/broken.test.ts: with each one on, the simulator
   * must find a safety violation within a bounded number of seeds). Never
   * set anywhere else; the config schema does not reach it.
   */
  unsafe?: UnsafeVariants;
  /**
   * Sees every input before it is stepped: peers' messages and local
   * operations alike (RaftNode's one step). For tests and debugging.
   */
  trace?: (input: RaftInput, node: string) => void;
}

export interface UnsafeVariants {
  /** Drop Figure 8's rule: commit an earlier term's entry by counting replicas (§5.4.2). */
  commitEarlierTerms?: boolean;
}

export type ResolvedConfig = Required<Omit<RaftConfig, "logger" | "restore" | "applied" | "unsafe" | "trace">> &
  Pick<RaftConfig, "logger" | "restore" | "applied" | "unsafe" | "trace">;

export const RAFT_DEFAULTS = {
  preVote: true,
  checkQuorum: true,
  maxEntriesPerAppend: 64,
  maxInflightAppends: 64,
  maxCommittedPerReady: 1024,
  maxPendingReads: 4096,
} as const;

export function resolveConfig(cfg: RaftConfig): ResolvedConfig {
  return { ...RAFT_DEFAULTS, ...stripUndefined(cfg) } as ResolvedConfig;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

const positiveInt = (n: unknown): boolean => typeof n === "number" && Number.isInteger(n) && n > 0;

/** Every broken rule, one sentence each; empty when the config is usable. */
export function validateConfig(cfg: ResolvedConfig): string[] {
  const errs: string[] = [];
  if (typeof cfg.id !== "string" || cfg.id === "") errs.push("id must be a non-empty string.");
  if (!Array.isArray(cfg.peers)) errs.push("peers must be an array of node ids.");
  else {
    if (new Set(cfg.peers).size !== cfg.peers.length) errs.push("peers must not contain duplicates.");
    if (cfg.peers.length > 0 && !cfg.peers.includes(cfg.id) && !cfg.restore)
      errs.push("peers must include id when bootstrapping (pass [] to join an existing cluster).");
  }
  if (!positiveInt(cfg.electionTicks)) errs.push("electionTicks must be a positive integer.");
  if (!positiveInt(cfg.heartbeatTicks)) errs.push("heartbeatTicks must be a positive integer.");
  if (cfg.heartbeatTicks >= cfg.electionTicks) errs.push("heartbeatTicks must be smaller than electionTicks.");
  if (typeof cfg.rng !== "function") errs.push("rng must be a function returning a number in [0, 1).");
  for (const k of ["maxEntriesPerAppend", "maxInflightAppends", "maxCommittedPerReady", "maxPendingReads"] as const)
    if (!positiveInt(cfg[k])) errs.push(`${k} must be a positive integer.`);
  if (cfg.restore) errs.push(...validateRestore(cfg.restore, cfg.applied));
  return errs;
}

function validateRestore(r: PersistedState, applied: number | undefined): string[] {
  const errs: string[] = [];
  const snapIndex = r.snapshot?.index ?? 0;
  r.entries.forEach((e, i) => {
    if (e.index !== snapIndex + 1 + i && errs.length === 0)
      errs.push(`restore.entries must be contiguous from ${snapIndex + 1}; found index ${e.index} at position ${i}.`);
  });
  const last = snapIndex + r.entries.length;
  if (r.hardState.commit > last) errs.push(`restore.hardState.commit (${r.hardState.commit}) is beyond the last entry (${last}).`);
  if (applied !== undefined && (applied < snapIndex || applied > Math.max(r.hardState.commit, snapIndex)))
    errs.push(`applied (${applied}) must lie between the snapshot index (${snapIndex}) and the commit index.`);
  return errs;
}
