// Single-server membership changes (thesis §4.1, §4.2).
//
// Rule chosen: a configuration takes effect on a server as soon as its conf
// entry is APPENDED to that server's log, committed or not (thesis §4.1), and
// a server whose conf entry is truncated away reverts to the previous one.
// We do not use "effective when committed": with that rule two servers can be
// two configurations apart (one has not learned the commit of C1 while C2 is
// already committed), and majorities of C0 and C2 need not overlap, which
// allows two leaders in one term.
//
// The rule is safe because (enforced by the leader, see proposeConfChange):
//  - at most one change is uncommitted at a time, and each adds or removes a
//    single voter, so any majority of the old and of the new set overlap;
//  - a leader appends a change only after committing an entry of its own
//    term (the fix to the single-server bug, raft-dev 2015, thesis errata).
//
// A conf entry carries the complete resulting voter set, so the current
// configuration is just "the voters of the last conf entry in the log, else
// of the snapshot": no replay of change history is needed.
import type { ConfChange, Entry } from "./types.ts";

export interface ConfEntryData {
  /** Absent on the bootstrap entry (index 1), which sets the initial voters. */
  change?: ConfChange;
  voters: string[];
}

export function encodeConf(change: ConfChange | undefined, voters: readonly string[]): string {
  const data: ConfEntryData = change ? { change, voters: [...voters].sort() } : { voters: [...voters].sort() };
  return JSON.stringify(data);
}

/** The change and resulting voter set of a "conf" entry. */
export function decodeConf(entry: Entry): ConfEntryData {
  if (entry.type !== "conf") throw new Error(`raft: entry ${entry.index} is not a conf entry`);
  return JSON.parse(entry.data) as ConfEntryData;
}

/** The voter set after applying `change` to `voters`, or a reason it is invalid. */
export function applyChange(voters: readonly string[], change: ConfChange): string[] | string {
  if (typeof change?.node !== "string" || change.node === "") return "node must be a non-empty string";
  const has = voters.includes(change.node);
  if (change.type === "add") {
    if (has) return `${change.node} is already a voter`;
    return [...voters, change.node].sort();
  }
  if (change.type === "remove") {
    if (!has) return `${change.node} is not a voter`;
    if (voters.length === 1) return "cannot remove the last voter";
    return voters.filter((v) => v !== change.node);
  }
  return `unknown change type ${String((change as { type: unknown }).type)}`;
}

export function sameVoters(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
