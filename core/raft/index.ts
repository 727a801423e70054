// Public surface of core/raft: a pure, deterministic Raft state machine,
// the storage contract and the one driver loop around it.
// See docs/raft.md for the driver contract.
export { RaftNode } from "./node.ts";
export { RAFT_DEFAULTS, type RaftConfig } from "./config.ts";
export { MemoryStorage } from "./memory-storage.ts";
export type { RaftStorage, Persist } from "./storage.ts";
export { RaftDriver, CRASH_POINTS, type CrashPoint, type DeferredSync, type DriverStateMachine, type DriverTransport, type Processed, type RaftDriverOptions } from "./driver.ts";
export { decodeConf, type ConfEntryData } from "./membership.ts";
export type * from "./types.ts";
