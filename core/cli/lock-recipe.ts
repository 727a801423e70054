// Consul's lock and semaphore recipes (api/lock.go, api/semaphore.go) as
// pure steps over KV answers, so `corral lock` and its tests share them.
//
// Lock (limit 1): one key, PREFIX/.lock, acquired with the session.
// Semaphore (limit N): every contender acquires its own key PREFIX/<session>
// with its session; PREFIX/.lock holds { Limit, Holders } and is changed
// only by check-and-set. A contender may add itself while fewer than Limit
// live holders are listed; holders whose contender key lost its session
// (they died) are pruned by whoever writes next.

export interface KvPair {
  Key: string;
  Value: string | null;
  Session?: string;
  LockIndex: number;
  ModifyIndex: number;
}

export interface SemaphoreLock {
  Limit: number;
  Holders: Record<string, boolean>;
}

export const LOCK_KEY = ".lock";

export function lockKey(prefix: string): string {
  return `${prefix.replace(/\/+$/, "")}/${LOCK_KEY}`;
}

export function contenderKey(prefix: string, session: string): string {
  return `${prefix.replace(/\/+$/, "")}/${session}`;
}

/** The semaphore's .lock document; throws when it is not one or its limit differs from ours (as Consul's recipe refuses). */
export function decodeSemaphore(pair: KvPair | undefined, limit: number): SemaphoreLock {
  if (!pair || pair.Value === null) return { Limit: limit, Holders: {} };
  let doc: SemaphoreLock;
  try {
    doc = JSON.parse(Buffer.from(pair.Value, "base64").toString()) as SemaphoreLock;
  } catch {
    throw new Error(`${pair.Key} is not a semaphore lock document`);
  }
  if (typeof doc?.Limit !== "number" || typeof doc.Holders !== "object" || doc.Holders === null) throw new Error(`${pair.Key} is not a semaphore lock document`);
  if (doc.Limit !== limit) throw new Error(`semaphore limit conflict (lock: ${doc.Limit}, local: ${limit})`);
  return doc;
}

/**
 * The next .lock document when `session` tries to take a slot: live
 * holders only (a holder is live while its contender key holds its
 * session), plus us when a slot is free. undefined: no slot.
 */
export function takeSlot(pairs: KvPair[], prefix: string, limit: number, session: string): { doc: SemaphoreLock; cas: number } | undefined {
  const lock = pairs.find((p) => p.Key === lockKey(prefix));
  const doc = decodeSemaphore(lock, limit);
  const live = new Set(pairs.filter((p) => p.Session && p.Key === contenderKey(prefix, p.Session)).map((p) => p.Session!));
  const holders: Record<string, boolean> = {};
  for (const s of Object.keys(doc.Holders)) if (live.has(s)) holders[s] = true;
  if (!holders[session] && Object.keys(holders).length >= limit) return undefined;
  holders[session] = true;
  return { doc: { Limit: limit, Holders: holders }, cas: lock?.ModifyIndex ?? 0 };
}
