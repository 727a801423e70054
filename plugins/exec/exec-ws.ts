// Interactive `corral alloc exec` (Nomad's alloc exec): a WebSocket session
//   GET /v1/client/allocation/{id}/exec?task=T&command=["sh"]&tty=true
// (frames: exec-ws-protocol.ts), the command on a terminal of its own with
// tty=true (exec-process.ts). The one-shot POST on the same path
// (exec-routes.ts) stays for scripts and nodes of the previous release.
//
// Before anything starts, every middleware has run: the browser guard refuses
// a cross-site handshake (browsers apply no CORS to WebSockets:
// core/http/browser-guard.ts counts an upgrade as a write), the ACL
// middleware needs alloc_exec:write on the allocation's job from the token
// in a header or ?token= (core/acl/route-permissions.ts), and a raw task
// needs operator:write too (checked here, from the same parsed query as the
// rest of the handler: execWsQuery). The audit log records the handshake as
// a write, once per session, on the node the client called.
//
// Any node takes the session: the node running the allocation serves it,
// any other relays it there over a WebSocket whose handshake is signed with
// the cluster secret (ctx.peerWebSocket, core/http/peer-websocket.ts); the
// running node takes a signed handshake as authorized by the relaying node.
// Limits per node: `exec_max_sessions` open at once (run or relayed), and
// `exec_max_frame_bytes` per client frame.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  ApiError, FORWARDED_HEADER, isWebSocketUpgrade, lateAuthorizer, type PluginContext, requestIdentity, type SessionSocket,
  upgradeWebSocket, type WebSocketSession,
} from "../../core/sdk/index.ts";
import type { AllocRunner, NodeAlloc } from "./alloc-runner.ts";
import { requireRawPermission } from "./exec-routes.ts";
import { withTokenHandshake } from "./exec-ws-handshake.ts";
import { type SessionCommand, startSessionProcess, type SessionProcess } from "./exec-process.ts";
import {
  CLOSE_BAD_FRAME, CLOSE_ERROR, CLOSE_NORMAL, CLOSE_TOO_BIG, encodeFrame, ExecWsQuery, type ExecWsParams, outputFrame,
  parseClientFrame, type ServerFrame,
} from "./exec-ws-protocol.ts";
import { locate } from "./routes.ts";

export interface ExecWsDeps {
  ctx: PluginContext<unknown>;
  runner(allocId: string): AllocRunner | undefined;
  maxSessions: number;
  maxFrameBytes: number;
}

/** The terminal's size until the client's first tty_size frame. */
const INITIAL_SIZE = { cols: 80, rows: 24 };
/** Client frames held while the relay's connection to the running node opens. */
const MAX_QUEUED_FRAMES = 256;
/** Output queued for a client that does not read: past this, pipes stop being read (the command blocks)... */
const PAUSE_AT_BYTES = 1024 * 1024;
/** ...and past this (a terminal, or a relay, which cannot stop reading) the session ends: memory stays bounded. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

const parsedQueries = new WeakMap<Request, ExecWsParams>();

/** The request's query, parsed once (the raw-task check and the session read the same); a clear 400 otherwise. */
export function execWsQuery(c: Context): ExecWsParams {
  const cached = parsedQueries.get(c.req.raw);
  if (cached) return cached;
  const url = new URL(c.req.url);
  const raw: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (k in raw) throw new ApiError(400, "INVALID_INPUT", `query parameter "${k.slice(0, 64)}" given twice`);
    raw[k] = v;
  }
  const parsed = ExecWsQuery.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.length ? `${issue.path.join(".")}: ` : "";
    throw new ApiError(400, "INVALID_INPUT", `${at}${issue.message}`);
  }
  parsedQueries.set(c.req.raw, parsed.data);
  return parsed.data;
}

/** Open sessions on this node, bounded. */
class SessionSlots {
  open = 0;
  constructor(private readonly max: number) {}
  take(): () => void {
    if (this.open >= this.max) throw new ApiError(429, "TOO_MANY_SESSIONS", `this node has ${this.open} exec sessions open, its limit ([plugins.exec] exec_max_sessions); try again once one ends`);
    this.open++;
    let released = false;
    return () => {
      if (!released) this.open--;
      released = true;
    };
  }
}

function send(ws: SessionSocket, f: ServerFrame): void {
  try {
    ws.send(encodeFrame(f));
  } catch {
    // closed meanwhile
  }
}

/** Bytes queued for the client, not yet written. */
const queued = (ws: SessionSocket): number => ws.getBufferedAmount?.() ?? 0;

function frameSize(data: string | Uint8Array): number {
  return typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
}

/** The session served here: the command's process, started once the socket is open. */
function localSession(d: ExecWsDeps, plan: SessionCommand, alloc: NodeAlloc, q: ExecWsParams, release: () => void, accessor: string | undefined): WebSocketSession {
  d.ctx.log.info("alloc exec session", { alloc: alloc.id, task: q.task, tty: q.tty, command: q.command.join(" ").slice(0, 200), accessor });
  let proc: SessionProcess | undefined;
  let done = false;
  let paused = false;
  const end = (ws: SessionSocket, code: number, reason: string) => {
    done = true;
    proc?.kill();
    try {
      ws.close(code, reason.slice(0, 120)); // a close reason is at most 123 bytes
    } catch {}
  };
  const output = (ws: SessionSocket, stream: "stdout" | "stderr", b: Uint8Array) => {
    if (done) return;
    send(ws, outputFrame(stream, b));
    const n = queued(ws);
    if (n > MAX_QUEUED_BYTES) end(ws, CLOSE_ERROR, "the client does not read the command's output");
    else if (n > PAUSE_AT_BYTES && !paused) {
      paused = true;
      proc?.pause();
    }
  };
  return {
    open(ws) {
      proc = startSessionProcess(plan, q.tty ? INITIAL_SIZE : undefined, {
        stdout: (b) => output(ws, "stdout", b),
        stderr: (b) => output(ws, "stderr", b),
        exit: (code, error) => {
          if (done) return;
          send(ws, { exited: true, result: { exit_code: code }, ...(error ? { error } : {}) });
          end(ws, CLOSE_NORMAL, "exited");
        },
      });
    },
    message(ws, data) {
      if (done) return;
      if (frameSize(data) > d.maxFrameBytes) return end(ws, CLOSE_TOO_BIG, `a frame over ${d.maxFrameBytes} bytes (exec_max_frame_bytes)`);
      const f = parseClientFrame(data);
      if (!f.ok) return end(ws, CLOSE_BAD_FRAME, f.error);
      if (f.stdin) proc?.write(f.stdin);
      if (f.frame.stdin?.close) proc?.closeStdin();
      if (f.frame.tty_size) proc?.resize(f.frame.tty_size.width, f.frame.tty_size.height);
    },
    drain(ws) {
      if (paused && queued(ws) < PAUSE_AT_BYTES) {
        paused = false;
        proc?.resume();
      }
    },
    close() {
      // The client went away (or the session ended): nothing of the command outlives it.
      done = true;
      proc?.kill();
      release();
    },
  };
}

/** The session relayed to the node running the allocation, frames passed as they are both ways. */
function relaySession(d: ExecWsDeps, c: Context, address: string, release: () => void): WebSocketSession {
  const open = d.ctx.peerWebSocket;
  if (!open) throw new ApiError(503, "RELAY_UNAVAILABLE", "this node cannot relay an exec session (no cluster secret, or no WebSocket client in this runtime): call the node running the allocation");
  const url = new URL(c.req.url);
  // The client's token stays here (it was checked here); the signature tells the running node so.
  url.searchParams.delete("token");
  url.searchParams.delete("ws_handshake"); // checked here: the running node takes the signature as that check
  const pathAndQuery = url.pathname + url.search;
  let peer: WebSocket | undefined;
  let queue: (string | Uint8Array)[] = [];
  let done = false;
  const finish = (ws: SessionSocket, code: number, reason: string) => {
    if (done) return;
    done = true;
    try {
      peer?.close();
    } catch {}
    try {
      ws.close(code, reason.slice(0, 120));
    } catch {}
  };
  return {
    open(ws) {
      try {
        peer = open(address, pathAndQuery, { [FORWARDED_HEADER]: d.ctx.host.nodeId });
      } catch (err) {
        return finish(ws, CLOSE_ERROR, `could not reach node ${address}: ${(err as Error).message}`);
      }
      let opened = false;
      peer.binaryType = "arraybuffer";
      peer.onopen = () => {
        opened = true;
        for (const m of queue) peer!.send(m);
        queue = [];
      };
      peer.onmessage = (e) => {
        try {
          ws.send(typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer));
        } catch {}
        if (queued(ws) > MAX_QUEUED_BYTES) finish(ws, CLOSE_ERROR, "the client does not read the command's output");
      };
      peer.onclose = (e) => {
        if (!opened) send(ws, { exited: true, result: { exit_code: 1 }, error: `node ${address} running the allocation refused the session or did not answer` });
        finish(ws, opened && e.code >= 1000 && e.code < 1005 ? e.code : opened ? CLOSE_NORMAL : CLOSE_ERROR, opened ? e.reason : "relay failed");
      };
      peer.onerror = () => {}; // onclose follows
    },
    message(ws, data) {
      if (done) return;
      // Checked here too: a relaying node holds what it queues.
      if (frameSize(data) > d.maxFrameBytes) return finish(ws, CLOSE_TOO_BIG, `a frame over ${d.maxFrameBytes} bytes (exec_max_frame_bytes)`);
      if (peer && peer.readyState === WebSocket.OPEN) peer.send(data);
      else if (queue.length < MAX_QUEUED_FRAMES) queue.push(data);
      else finish(ws, CLOSE_ERROR, "too many frames before the running node answered");
    },
    close() {
      done = true;
      try {
        peer?.close();
      } catch {}
      release();
    },
  };
}

/**
 * Checked after the allocation is found and the caller's rights: a plain GET
 * (what `corral alloc exec` sends when a handshake fails, to learn why) gets
 * the real refusal (404, 403), or this.
 */
function requireHandshake(c: Context): void {
  if (!isWebSocketUpgrade(c.req.raw)) throw new ApiError(400, "UPGRADE_REQUIRED", "this is a WebSocket route: send a handshake (Upgrade: websocket); for a one-shot command, POST a JSON body to the same path");
}

/** Where a session goes: served here with its command, or relayed to the node running the allocation. */
type Target = { kind: "local"; plan: SessionCommand; alloc: NodeAlloc } | { kind: "relay"; address: string };

/**
 * The session's target for a caller (`who`: undefined with ACLs off, or for
 * a request another node signed), every refusal thrown as an ApiError: the
 * allocation, the raw-task rule, the task and whether it runs.
 */
async function targetOf(d: ExecWsDeps, c: Context, q: ExecWsParams, who: ReturnType<typeof requestIdentity>): Promise<Target> {
  const id = c.req.param("id")!;
  let runner = d.runner(id);
  let alloc = runner?.alloc;
  if (!runner) {
    const where = await locate(d.ctx, id);
    alloc = where.alloc;
    if (where.alloc.nodeId !== d.ctx.host.nodeId) {
      // On the node that received the client's request (it holds the token's identity), before passing it on.
      requireRawPermission(where.alloc, q.task, who);
      if (c.req.header(FORWARDED_HEADER)) throw new ApiError(404, "ALLOC_NOT_FOUND", `allocation "${id}" does not run on this node`);
      return { kind: "relay", address: where.address };
    }
    runner = d.runner(where.alloc.id);
    if (!runner) throw new ApiError(409, "ALLOC_NOT_RUNNING", `allocation ${where.alloc.id} is not running (${where.alloc.clientStatus})`);
  }
  requireRawPermission(alloc!, q.task, who);
  const plan = runner.execPlan(q.task, q.command);
  if (plan.kind === "invalid") throw new ApiError(400, "INVALID_INPUT", plan.error);
  if (plan.kind === "refused") throw new ApiError(409, "ALLOC_NOT_RUNNING", plan.error);
  return { kind: "local", plan, alloc: alloc! };
}

export function execWsRoutes(d: ExecWsDeps): void {
  const slots = new SessionSlots(d.maxSessions);
  d.ctx.route(createRoute({
    method: "get", path: "/v1/client/allocation/{id}/exec", tags: ["allocations"],
    summary: "Interactive exec (Nomad's): a WebSocket session, ?task=T&command=[\"sh\"]&tty=true; client frames {stdin:{data|close}}, {tty_size:{height,width}}; server frames {stdout|stderr:{data}}, then {exited:true,result:{exit_code}}; any node relays it to the one running it",
    request: { params: z.object({ id: z.string().min(1).max(256) }) },
    responses: { 101: { description: "Switching protocols: the session's WebSocket" } },
  }), async (c: Context) => {
    const q = execWsQuery(c);
    const session = (t: Target, release: () => void, accessor: string | undefined): WebSocketSession =>
      (t.kind === "relay" ? relaySession(d, c, t.address, release) : localSession(d, t.plan, t.alloc, q, release, accessor));
    // With ?ws_handshake=true and no token on the request, the token comes in the first frame: the ACL
    // middleware left its check to `late`. Nothing is looked up before it passes (not even whether the
    // allocation exists: an unauthenticated caller learns nothing), and nothing starts.
    const late = q.ws_handshake ? lateAuthorizer(c) : undefined;
    if (late) {
      requireHandshake(c);
      const release = slots.take();
      try {
        return upgradeWebSocket(c, withTokenHandshake(async (token) => {
          const who = await late(token);
          return session(await targetOf(d, c, q, who), release, who.accessorId);
        }, release));
      } catch (err) {
        release();
        throw err;
      }
    }
    const who = requestIdentity(c);
    const target = await targetOf(d, c, q, who);
    requireHandshake(c);
    const release = slots.take();
    try {
      // ws_handshake with the token already checked (or ACLs off): the frame is read and its token not used.
      return upgradeWebSocket(c, q.ws_handshake ? withTokenHandshake(async () => session(target, release, who?.accessorId), release) : session(target, release, who?.accessorId));
    } catch (err) {
      release();
      throw err;
    }
  }, { leader: "local" });
}
