// The interactive `alloc exec` protocol, in Nomad's shape
// (command/agent/alloc_endpoint.go allocExec, api/allocations_exec.go):
//   GET /v1/client/allocation/{id}/exec?task=T&command=["sh"]&tty=true
// upgraded to a WebSocket; frames are JSON text both ways:
//   client → {"stdin":{"data":"<base64>"}}  {"stdin":{"close":true}}
//            {"tty_size":{"height":H,"width":W}}   ({} is a heartbeat)
//   server → {"stdout":{"data":"<base64>"}}  {"stderr":{"data":"<base64>"}}
//            {"exited":true,"result":{"exit_code":N}}   (last; then close 1000)
// Pure: parsing and encoding only.
import { z } from "zod";
import { ExecCommand } from "./exec-routes.ts";

const boolParam = z.enum(["true", "false"]).transform((v) => v === "true");

/**
 * The query, as Nomad's CLI sends it: `command` a JSON array of words.
 * `token` (Consul's query token, read by the ACL middleware) and Nomad's
 * `namespace`/`region` are accepted and not used here.
 */
export const ExecWsQuery = z.object({
  task: z.string().min(1).max(128).optional(),
  command: z.string().max(256 * 1024).transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "command: a JSON array of words, e.g. [\"/bin/sh\"]" });
      return z.NEVER;
    }
  }).pipe(ExecCommand),
  tty: boolParam.default(false),
  /** Nomad's browser handshake: the token in the first frame {"version":1,"auth_token":...} (exec-ws-handshake.ts). */
  ws_handshake: boolParam.optional(),
  token: z.string().max(512).optional(),
  namespace: z.string().max(128).optional(),
  region: z.string().max(128).optional(),
}).strict();

export type ExecWsParams = z.output<typeof ExecWsQuery>;

/** Terminal sizes outside this are refused (a frame must not make the kernel allocate for a 2^31-column window). */
const Dimension = z.number().int().min(1).max(10_000);

export const ClientFrame = z.object({
  stdin: z.object({ data: z.string().optional(), close: z.boolean().optional() }).strict().optional(),
  tty_size: z.object({ height: Dimension, width: Dimension }).strict().optional(),
}).strict();

export type ClientFrame = z.output<typeof ClientFrame>;

export type ServerFrame =
  | { stdout: { data: string } }
  | { stderr: { data: string } }
  | { exited: true; result: { exit_code: number }; error?: string };

/** A client frame, or why it is not one. */
export function parseClientFrame(data: string | Uint8Array): { ok: true; frame: ClientFrame; stdin?: Uint8Array } | { ok: false; error: string } {
  const text = typeof data === "string" ? data : new TextDecoder().decode(data);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: "a frame is not JSON" };
  }
  const parsed = ClientFrame.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, error: `${issue.path.join(".") || "frame"}: ${issue.message}` };
  }
  const b64 = parsed.data.stdin?.data;
  if (b64 === undefined || b64 === "") return { ok: true, frame: parsed.data };
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return { ok: false, error: "stdin.data: not base64" };
  return { ok: true, frame: parsed.data, stdin: new Uint8Array(Buffer.from(b64, "base64")) };
}

export function encodeFrame(f: ServerFrame): string {
  return JSON.stringify(f);
}

export const outputFrame = (stream: "stdout" | "stderr", b: Uint8Array): ServerFrame =>
  (stream === "stdout" ? { stdout: { data: Buffer.from(b).toString("base64") } } : { stderr: { data: Buffer.from(b).toString("base64") } });

/** WebSocket close codes used (RFC 6455 §7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_BAD_FRAME = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_ERROR = 1011;
