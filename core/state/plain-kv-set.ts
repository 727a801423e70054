// The cheap test before the command schema, for the one command every KV and
// lock write proposes (the "cheap test first, the schema otherwise" of
// core/api/raft-batch.ts's isPlainBatch). RaftReplicator.propose validates
// every command with the whole Command union, ~18 µs of the leader's CPU
// before a write's Appends can leave (docs/raft.md, "Where one commit's time
// goes"). A KVSet built by the KV routes is plain: known keys only, each of
// the schema's type and bounds, `flags` present. Such a command is what the
// schema would return for it unchanged, so it goes on as it is; anything
// else (an unknown key the schema would strip, a missing default, any doubt)
// returns false and gets the schema's parse and its error. True only for a
// subset of what the schema accepts: test/state/plain-kv-set.test.ts checks
// that against the schema itself.
import type { CommandOf } from "./commands.ts";
import { MAX_KV_VALUE_BYTES } from "./domains/kv.ts";

const MAX_KEY = 1024;
const MAX_VALUE = Math.ceil(MAX_KV_VALUE_BYTES / 3) * 4;
const MAX_SESSION = 64;
const KEYS = new Set(["type", "v", "at", "key", "value", "flags", "cas", "acquire", "release"]);

const count = (x: unknown): boolean => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
const text = (x: unknown, min: number, max: number): boolean => typeof x === "string" && x.length >= min && x.length <= max;

export function isPlainKVSet(c: unknown): c is CommandOf<"KVSet"> {
  if (typeof c !== "object" || c === null || Array.isArray(c) || Object.getPrototypeOf(c) !== Object.prototype) return false;
  const o = c as Record<string, unknown>;
  if (o.type !== "KVSet" || o.v !== 1 || typeof o.at !== "number" || !Number.isFinite(o.at)) return false;
  if (!text(o.key, 1, MAX_KEY) || !text(o.value, 0, MAX_VALUE) || !count(o.flags)) return false;
  if (o.cas !== undefined && !count(o.cas)) return false;
  if (o.acquire !== undefined && !text(o.acquire, 1, MAX_SESSION)) return false;
  if (o.release !== undefined && !text(o.release, 1, MAX_SESSION)) return false;
  for (const k in o) if (!KEYS.has(k)) return false;
  return true;
}
