// The data that crosses core/raft's boundary: log entries, messages, the
// state a driver must persist, and what Ready hands back. Everything here is
// plain JSON (no Maps, no undefined-vs-missing tricks that JSON would lose)
// because messages travel over HTTP and state is stored in SQLite.

/** "noop": the entry a new leader appends (thesis §6.4); "conf": a membership change. */
export type EntryType = "normal" | "conf" | "noop";

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  /** Opaque to raft for "normal"; JSON of ConfEntryData for "conf"; "" for "noop". */
  data: string;
}

/** What must be durable before any message of the same Ready is sent (Figure 2, "persistent state"). */
export interface HardState {
  term: number;
  /** Candidate voted for in `term`, or null. */
  vote: string | null;
  /** Highest index known committed. Persisting it is an optimisation: it saves replaying on restart. */
  commit: number;
}

export type Role = "follower" | "precandidate" | "candidate" | "leader";

/** Volatile state, reported for observability and request routing; never persisted. */
export interface SoftState {
  leader: string | undefined;
  role: Role;
}

/**
 * The application's state up to and including `index`, plus the voter set in
 * force at `index` (so a node restored from it knows its configuration).
 */
export interface Snapshot {
  index: number;
  term: number;
  voters: string[];
  data: string;
}

/** Exactly what a node persisted, handed back to the constructor on restart. */
export interface PersistedState {
  hardState: HardState;
  snapshot?: Snapshot;
  /** Contiguous entries starting at snapshot.index + 1 (or 1 without a snapshot). */
  entries: Entry[];
}

/** A linearizable read may be served once the application has applied `index` (thesis §6.4). */
export interface ReadState {
  ctx: string;
  index: number;
}

// ---------------------------------------------------------------- messages

interface MsgBase {
  from: string;
  to: string;
  /** Sender's term; for PreVote the term the sender would campaign in (thesis §9.6). */
  term: number;
}

export interface PreVoteMsg extends MsgBase { type: "PreVote"; lastIndex: number; lastTerm: number }
export interface VoteMsg extends MsgBase {
  type: "Vote";
  lastIndex: number;
  lastTerm: number;
  /** Campaign started by TimeoutNow: voters must not hide behind their leader lease (thesis §3.10). */
  transfer: boolean;
}
export interface PreVoteRespMsg extends MsgBase { type: "PreVoteResp"; reject: boolean }
export interface VoteRespMsg extends MsgBase { type: "VoteResp"; reject: boolean }
export interface AppendMsg extends MsgBase {
  type: "Append";
  prevIndex: number;
  prevTerm: number;
  entries: Entry[];
  commit: number;
}
/**
 * Success: `index` is the last index known to match the leader.
 * Reject: `index` is the rejected prevIndex; `conflictTerm` is the follower's
 * term at prevIndex (0 if its log is shorter) and `conflictIndex` the first
 * index of that term in its log, or its last index when shorter (thesis §5.3
 * "fast back-off").
 */
export interface AppendRespMsg extends MsgBase {
  type: "AppendResp";
  reject: boolean;
  index: number;
  conflictTerm: number;
  conflictIndex: number;
}
export interface HeartbeatMsg extends MsgBase {
  type: "Heartbeat";
  /** min(follower's match, leader commit): never beyond what the follower holds. */
  commit: number;
  /** Read round being confirmed (thesis §6.4), echoed back. */
  readSeq: number;
}
export interface HeartbeatRespMsg extends MsgBase { type: "HeartbeatResp"; readSeq: number }
export interface SnapshotMsg extends MsgBase { type: "Snapshot"; snapshot: Snapshot }
export interface TimeoutNowMsg extends MsgBase { type: "TimeoutNow" }

export type Message =
  | PreVoteMsg
  | VoteMsg
  | PreVoteRespMsg
  | VoteRespMsg
  | AppendMsg
  | AppendRespMsg
  | HeartbeatMsg
  | HeartbeatRespMsg
  | SnapshotMsg
  | TimeoutNowMsg;

export type MessageType = Message["type"];

/** Every type a peer may send; anything else arriving from the network is ignored. */
export const MESSAGE_TYPES: readonly MessageType[] = [
  "PreVote", "Vote", "PreVoteResp", "VoteResp", "Append", "AppendResp", "Heartbeat", "HeartbeatResp", "Snapshot", "TimeoutNow",
];

/**
 * The local driver's operations. RaftNode feeds them through the same one
 * step as peers' messages, so every input to the state machine passes one
 * trace point (RaftConfig.trace). Never accepted from the network.
 */
export type LocalInput =
  | { type: "Tick" }
  | { type: "Campaign" }
  | { type: "Propose"; data: string }
  | { type: "ProposeConfChange"; change: ConfChange }
  | { type: "TransferLeadership"; to: string }
  | { type: "ReadIndex"; ctx: string }
  | { type: "Compact"; snapshot: { index: number; term: number; data: string } };

/** Everything RaftNode steps: a peer's message or a local operation. */
export type RaftInput = Message | LocalInput;

// ---------------------------------------------------------------- Ready

/**
 * One batch of work for the driver. Process it in this order, then call
 * advance(ready) before asking for the next one:
 *  1. Persist, durably and atomically if you can: `snapshot` (replacing the
 *     whole stored log), then `entries` (first delete every stored entry with
 *     index >= entries[0].index: they were overwritten), then `hardState`.
 *  2. Only then send `messages`. A message may promise (a vote, an append
 *     ack) what step 1 made durable; sending first can break safety after a
 *     crash. The exception: the first `sendBeforePersist` messages may be
 *     sent before step 1, so the leader writes its log while the followers
 *     write theirs (thesis §10.2.1).
 *  3. Restore `snapshot` into the application, then apply `committedEntries`
 *     in order.
 *  4. Serve `readStates` once the application has applied their index.
 */
export interface Ready {
  /** Changed term/vote/commit: persist before sending `messages`. */
  hardState?: HardState;
  /** Changed leader/role: for routing and observability; not persisted. */
  softState?: SoftState;
  /** New or overwritten entries: delete stored entries from entries[0].index on, then append; before sending. */
  entries: Entry[];
  /** From the leader's InstallSnapshot: replaces the stored snapshot and log; restore it into the application. */
  snapshot?: Snapshot;
  /** Send ONLY after this Ready's hardState, entries and snapshot are durable (but see sendBeforePersist). */
  messages: Message[];
  /**
   * How many of `messages`, from the front, may be sent before persisting:
   * a leader's Appends and Heartbeats whose commit index covers only entries
   * already durable here, in a Ready that changes neither term nor vote.
   * They promise nothing this Ready persists: the leader's own new entries
   * count toward a commit only with followers' acks, and a commit reached
   * that way shows (in messages or committedEntries) only in a later Ready,
   * which ready() gives out only after advance(), i.e. after persisting
   * (Ongaro's thesis §10.2.1; etcd does the same). Sending them all after
   * persisting is also correct.
   */
  sendBeforePersist: number;
  /** Apply in order, after `snapshot`. */
  committedEntries: Entry[];
  /** Confirmed linearizable reads: serve each once `index` is applied. */
  readStates: ReadState[];
  /** The voter set, when it changed (a conf entry was appended or truncated away, or a snapshot restored). */
  voters?: string[];
}

// ---------------------------------------------------------------- results

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | { ok: false; code: "NOT_LEADER"; leader?: string }
  | { ok: false; code: "TRANSFERRING" };

export type ConfChange = { type: "add" | "remove"; node: string };

export type ConfChangeResult =
  | ProposeResult
  | { ok: false; code: "CONF_CHANGE_PENDING" | "INVALID_CONF_CHANGE"; message: string };

export type ReadIndexResult =
  | { ok: true }
  | { ok: false; code: "NOT_LEADER"; leader?: string }
  | { ok: false; code: "BUSY"; message: string };

export type TransferResult =
  | { ok: true }
  | { ok: false; code: "NOT_LEADER"; leader?: string }
  | { ok: false; code: "UNKNOWN_PEER"; message: string };

export type CompactResult =
  | { ok: true; snapshot: Snapshot }
  | { ok: false; code: "INVALID_SNAPSHOT"; message: string };

// ---------------------------------------------------------------- status

export type ProgressState = "probe" | "replicate" | "snapshot";

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  /** Leader's tick count when this follower last answered. */
  lastContactTick: number;
  recentActive: boolean;
}

export interface Status {
  id: string;
  term: number;
  vote: string | null;
  role: Role;
  leader: string | undefined;
  commitIndex: number;
  appliedIndex: number;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  voters: string[];
  /** Leader only: one row per other voter. */
  progress?: Record<string, ProgressStatus>;
  leadTransferee?: string;
  tick: number;
}

/** The few fields of Status that hot paths ask for (RaftNode.brief()): no copies, no progress rows. */
export type BriefStatus = Pick<Status, "term" | "role" | "leader" | "commitIndex">;

/** Optional injected logger; core/log.ts's Logger fits. */
export interface RaftLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}
