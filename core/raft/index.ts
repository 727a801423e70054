// Public surface of core/raft: a pure, deterministic Raft state machine.
// See docs/raft.md for the driver contract.
export { RaftNode } from "./node.ts";
export { RAFT_DEFAULTS, type RaftConfig } from "./config.ts";
export { MemoryStorage } from "./memoryStorage.ts";
export { decodeConf, type ConfEntryData } from "./membership.ts";
export type * from "./types.ts";
