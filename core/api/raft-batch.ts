// The body of POST /v1/raft/message: a peer's batch of Raft messages. One
// schema for the route and its fast path, and beside it a cheap test that
// a parsed batch is one the schema accepts unchanged, for the fast path's
// hot case. Validating each batch with zod cost the fast path ~30 µs of CPU
// per batch in a loaded node (a quarter of its cost); the test below costs
// well under one. It is deliberately stricter than the schema (a batch it
// does not vouch for is validated by zod, whose refusal is the answer), and
// it reads the same limits, so it can only make the fast path slower, never
// let through what the route refuses; test/api/raft-batch.test.ts checks
// that on generated batches.
import { z } from "@hono/zod-openapi";
import type { Message } from "../raft/index.ts";

/** Longest message type name, and node id ("host:port") in `from`/`to`. */
const MAX_TYPE_CHARS = 32;
const MAX_ID_CHARS = 300;
/** Most messages in one batch. */
const MAX_MESSAGES = 100_000;

export const MessageBatch = z.object({
  from: z.string().max(MAX_ID_CHARS),
  messages: z.array(z.object({
    type: z.string().max(MAX_TYPE_CHARS), from: z.string().max(MAX_ID_CHARS), to: z.string().max(MAX_ID_CHARS), term: z.number().int().nonnegative(),
  }).passthrough()).max(MAX_MESSAGES),
});

const isShortString = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Whether MessageBatch surely accepts `b` (a JSON.parse result) with the
 * messages as they are: false means "ask the schema", not "refused". Pure.
 * (Lengths in UTF-16 units, never fewer than zod's count; terms safe integers.)
 */
export function isPlainBatch(b: unknown): b is { from: string; messages: Message[] } {
  if (!isRecord(b) || !isShortString(b.from, MAX_ID_CHARS)) return false;
  const messages = b.messages;
  if (!Array.isArray(messages) || messages.length > MAX_MESSAGES) return false;
  for (const m of messages) {
    if (!isRecord(m) || !isShortString(m.type, MAX_TYPE_CHARS) || !isShortString(m.from, MAX_ID_CHARS) || !isShortString(m.to, MAX_ID_CHARS)) return false;
    const term = m.term;
    if (typeof term !== "number" || !Number.isSafeInteger(term) || term < 0) return false;
  }
  return true;
}
