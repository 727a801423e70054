// `corral lock [-n N] PREFIX -- COMMAND...` (Consul's `consul lock`): holds
// a lock on PREFIX, or one of N semaphore slots, while COMMAND runs.
// A session with a TTL is created and renewed every TTL/2; the lock is
// watched with blocking reads, and if it is lost (the session expired or
// was destroyed, the holder list no longer names us) the child gets
// SIGTERM (then SIGKILL after --kill-grace). The exit code is the child's.
// The child sees CORRAL_LOCK_SESSION and CORRAL_LOCK_INDEX (the LockIndex
// it acquired at: a fencing token, docs/coordination.md).
import { spawn, type ChildProcess } from "node:child_process";
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import type { ApiClient } from "../client.ts";
import { ClientError } from "../client.ts";
import { contenderKey, lockKey, takeSlot, type KvPair } from "../lock-recipe.ts";
import { parseGoDuration } from "../../config/duration.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const lockSpec: CommandSpec = {
  name: "lock",
  summary: "Run a command while holding a lock (or one of N semaphore slots) on a KV prefix.",
  usage: "corral lock [-n N] [--ttl 15s] [--lock-delay 15s] PREFIX -- COMMAND [ARGS...]",
  flags: {
    addr: clientFlags.addr!,
    token: clientFlags.token!,
    limit: { type: "number", value: "N", short: "n", help: "semaphore: up to N holders at once (default 1: a lock)" },
    ttl: { type: "string", value: "DURATION", help: "session TTL; a dead holder's lock frees within 2×TTL (default 15s)" },
    "lock-delay": { type: "string", value: "DURATION", help: "after a holder's session ends, no one may take its lock for this long (default 15s)" },
    name: { type: "string", value: "NAME", help: "session name (default \"corral lock\")" },
    "kill-grace": { type: "string", value: "DURATION", help: "after the lock is lost: SIGTERM, then SIGKILL after this long (default 5s)" },
    verbose: { type: "boolean", help: "say on stderr when the lock is taken, lost and released" },
  },
  details: "The child sees CORRAL_LOCK_SESSION and CORRAL_LOCK_INDEX (a fencing token: see docs/coordination.md).\nExit code: the child's; 1 when the lock was lost; 2 on bad usage.",
};

const path = (key: string) => `/v1/kv/${key.split("/").map(encodeURIComponent).join("/")}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function duration(v: unknown, name: string, def: string): string {
  const s = typeof v === "string" ? v : def;
  if (parseGoDuration(s) === undefined) throw new UsageError(`--${name} takes a duration such as 15s, not "${s}"`);
  return s;
}

/** A blocking read: the entries and the index to wait on next. */
async function blockingGet(client: ApiClient, p: string, index: number, signal: AbortSignal): Promise<{ index: number; pairs: KvPair[] }> {
  const sep = p.includes("?") ? "&" : "?";
  const res = await client.raw("GET", `${p}${sep}index=${index}&wait=30s`, undefined, undefined);
  if (signal.aborted) return { index, pairs: [] };
  const next = Number(res.headers.get("x-consul-index") ?? index);
  if (res.status === 404) return { index: next, pairs: [] };
  if (!res.ok) throw new ClientError(res.status, `HTTP_${res.status}`, await res.text());
  return { index: next, pairs: (await res.json()) as KvPair[] };
}

export async function lock(args: Parsed): Promise<number> {
  const [prefix, ...command] = args.positionals;
  if (!prefix || command.length === 0) throw new UsageError("lock needs a PREFIX and a COMMAND after --");
  const limit = (args.flags.limit as number | undefined) ?? 1;
  if (limit < 1) throw new UsageError("-n must be at least 1");
  const ttl = duration(args.flags.ttl, "ttl", "15s");
  const lockDelay = duration(args.flags["lock-delay"], "lock-delay", "15s");
  const grace = parseGoDuration(duration(args.flags["kill-grace"], "kill-grace", "5s"))!;
  const verbose = Boolean(args.flags.verbose);
  const say = (m: string) => verbose && process.stderr.write(`corral lock: ${m}\n`);
  const client = clientFrom(args);

  const { ID: session } = await client.put<{ ID: string }>("/v1/session/create", { Name: (args.flags.name as string) ?? "corral lock", TTL: ttl, LockDelay: lockDelay, Behavior: "release" });
  const stop = new AbortController();
  let lost = false;
  let child: ChildProcess | undefined;
  const loseLock = (why: string) => {
    if (lost) return;
    lost = true;
    say(`lock lost (${why})`);
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      setTimeout(() => child?.exitCode === null && child.kill("SIGKILL"), grace).unref();
    }
  };

  // Renew every TTL/2: a session this process no longer renews is gone by 2×TTL.
  const ttlMs = parseGoDuration(ttl)!;
  const renewer = setInterval(async () => {
    try {
      await client.put(`/v1/session/renew/${session}`);
    } catch (err) {
      if (err instanceof ClientError && err.status === 404) loseLock("session expired");
    }
  }, Math.max(100, ttlMs / 2));

  const forward = (sig: NodeJS.Signals) => () => (child ? child.kill(sig) : void cleanup().then(() => process.exit(130)));
  process.on("SIGINT", forward("SIGINT"));
  process.on("SIGTERM", forward("SIGTERM"));

  const cleanup = async () => {
    stop.abort();
    clearInterval(renewer);
    try {
      if (limit > 1) await leaveSemaphore(client, prefix, limit, session);
      else if (!lost) await client.request("PUT", `${path(lockKey(prefix))}?release=${session}`, "", "application/octet-stream");
    } catch {
      // The session's destroy below releases what we hold anyway.
    }
    await client.put(`/v1/session/destroy/${session}`).catch(() => undefined);
  };

  let lockIndex: number;
  try {
    lockIndex = limit > 1 ? await enterSemaphore(client, prefix, limit, session) : await acquire(client, prefix, session);
  } catch (err) {
    await cleanup();
    throw err;
  }
  say(`lock held (session ${session}, LockIndex ${lockIndex})`);
  child = spawn(command[0]!, command.slice(1), {
    stdio: "inherit",
    env: { ...process.env, CORRAL_LOCK_SESSION: session, CORRAL_LOCK_INDEX: String(lockIndex) },
  });
  const exited = new Promise<number>((res) => {
    child!.once("exit", (code, sig) => res(code ?? (sig ? 128 + (signalNumber(sig) ?? 15) : 1)));
    child!.once("error", (err) => {
      process.stderr.write(`corral lock: cannot run ${command[0]}: ${err.message}\n`);
      res(127);
    });
  });
  void watch(client, prefix, limit, session, stop.signal, loseLock);
  const code = await exited;
  await cleanup();
  say("lock released");
  return lost ? 1 : code;
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig];
}

/**
 * Lock: a waiting acquire of PREFIX/.lock (the leader answers once the key
 * is ours, first come first served; docs/coordination.md), and Consul's
 * blocking read of the key when it answers false (its wait ended, or a node
 * too old to wait answered at once). Returns the LockIndex.
 */
async function acquire(client: ApiClient, prefix: string, session: string): Promise<number> {
  const key = path(lockKey(prefix));
  let index = 0;
  for (;;) {
    const ok = await client.request<boolean>("PUT", `${key}?acquire=${session}&wait=30s`, "", "application/octet-stream");
    const { index: next, pairs } = await blockingGet(client, key, 0, new AbortController().signal);
    if (ok && pairs[0]?.Session === session) return pairs[0].LockIndex;
    if (!pairs[0]?.Session) {
      // Free but refused: the lock-delay of a lost holder. Retry shortly.
      await sleep(250);
      continue;
    }
    // Held by another: wait for it to change.
    index = next;
    await blockingGet(client, key, index, new AbortController().signal);
  }
}

/** Semaphore: take our contender key, then a slot in PREFIX/.lock by cas. Returns the .lock's ModifyIndex. */
async function enterSemaphore(client: ApiClient, prefix: string, limit: number, session: string): Promise<number> {
  const mine = path(contenderKey(prefix, session));
  if (!(await client.request<boolean>("PUT", `${mine}?acquire=${session}`, "", "application/octet-stream"))) throw new Error("cannot take the contender key");
  const tree = `${path(prefix.replace(/\/+$/, ""))}/?recurse`;
  let index = 0;
  for (;;) {
    const { index: next, pairs } = await blockingGet(client, tree, index, new AbortController().signal);
    const slot = takeSlot(pairs, prefix, limit, session);
    if (slot) {
      const ok = await client.request<boolean>("PUT", `${path(lockKey(prefix))}?cas=${slot.cas}`, JSON.stringify(slot.doc), "application/octet-stream");
      if (ok) {
        const now = await blockingGet(client, path(lockKey(prefix)), 0, new AbortController().signal);
        return now.pairs[0]?.ModifyIndex ?? 0;
      }
      index = 0;
      continue;
    }
    index = next;
  }
}

async function leaveSemaphore(client: ApiClient, prefix: string, limit: number, session: string): Promise<void> {
  const key = path(lockKey(prefix));
  for (let i = 0; i < 20; i++) {
    const { pairs } = await blockingGet(client, key, 0, new AbortController().signal);
    const p = pairs[0];
    if (!p || p.Value === null) break;
    const doc = JSON.parse(Buffer.from(p.Value, "base64").toString()) as { Limit: number; Holders: Record<string, boolean> };
    if (!doc.Holders[session]) break;
    delete doc.Holders[session];
    if (await client.request<boolean>("PUT", `${key}?cas=${p.ModifyIndex}`, JSON.stringify({ Limit: limit, Holders: doc.Holders }), "application/octet-stream")) break;
  }
  await client.delete(path(contenderKey(prefix, session))).catch(() => undefined);
}

/** Blocking reads of the lock until it is no longer ours (or we stop). */
async function watch(client: ApiClient, prefix: string, limit: number, session: string, signal: AbortSignal, lose: (why: string) => void): Promise<void> {
  const key = path(lockKey(prefix));
  let index = 0;
  while (!signal.aborted) {
    try {
      const { index: next, pairs } = await blockingGet(client, key, index, signal);
      if (signal.aborted) return;
      const p = pairs[0];
      const ours = limit > 1
        ? Boolean(p?.Value && (JSON.parse(Buffer.from(p.Value, "base64").toString()) as { Holders: Record<string, boolean> }).Holders[session])
        : p?.Session === session;
      if (!ours) return lose(limit > 1 ? "no longer a holder" : "the key's session changed");
      index = next;
    } catch {
      // The cluster is unreachable for a moment (a leader change): keep watching; the session TTL decides.
      await sleep(500);
    }
  }
}
