// `corral alloc exec [--task T] ID -- CMD ARGS…` (Nomad's alloc exec): runs
// a command inside a running task, interactively, and exits with its exit
// code. A WebSocket session (plugins/exec/exec-ws.ts; the client side in
// core/cli/exec-session.ts): with a terminal (-t, the default when stdin is
// one) the command runs on a pty of its own and this terminal goes raw.
// A node of the previous release has only the one-shot POST route: then
// stdin, when it is not a terminal, is read whole and sent with the request,
// and the output comes back as newline-delimited JSON frames.
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { ClientError, type ApiClient } from "../client.ts";
import { runSession } from "../exec-session.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const allocExecSpec: CommandSpec = {
  name: "alloc exec",
  summary: "Run a command inside a running task (its sandbox and user, or its container), interactively, and exit with its exit code.",
  usage: "corral alloc exec [--task T] [-i] [-t] ID -- CMD [ARGS...] [--addr URL] [--token TOKEN]",
  details: "A WebSocket session: standard input goes to the command as it is typed, its output comes back as it is written. With a terminal (-t; the default when standard input is one) the command runs on a terminal of its own, this terminal is put in raw mode (^C goes to the command) and its window size follows; --tty=false gives pipes instead. --stdin=false sends no input. Nodes of the previous release get the one-shot request (input read whole, no terminal). Needs alloc_exec:write on the allocation's job (and operator:write for a raw task).",
  flags: {
    task: { type: "string", value: "T", help: "The task (needed when the allocation has several)" },
    stdin: { type: "boolean", short: "i", help: "Send standard input to the command (default true; --stdin=false: none)" },
    tty: { type: "boolean", short: "t", help: "Run the command on a terminal (default: when standard input is a terminal; --tty=false: pipes)" },
    timeout: { type: "string", value: "SECONDS", help: "End the command after this many seconds (default: none; the one-shot request's 3600)" },
    addr: clientFlags.addr!, token: clientFlags.token!,
  },
};

type Frame = { stdout?: { data: string }; stderr?: { data: string }; exited?: boolean; result?: { exit_code: number }; error?: string };

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return "";
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The session's path: Nomad's query (command as a JSON array). */
export function execSessionPath(id: string, o: { task?: string; command: string[]; tty: boolean }): string {
  const q = new URLSearchParams({ command: JSON.stringify(o.command), tty: String(o.tty) });
  if (o.task) q.set("task", o.task);
  return `/v1/client/allocation/${encodeURIComponent(id)}/exec?${q}`;
}

export async function allocExec(args: Parsed): Promise<number> {
  const [id, ...command] = args.positionals;
  if (!id || command.length === 0) throw new UsageError("expected an allocation ID and a command: corral alloc exec ID -- CMD [ARGS...]");
  const task = args.flags.task as string | undefined;
  const timeout = args.flags.timeout === undefined ? undefined : Number(args.flags.timeout);
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 1)) throw new UsageError(`--timeout takes a whole number of seconds, not "${String(args.flags.timeout)}"`);
  const withStdin = (args.flags.stdin as boolean | undefined) ?? true;
  const tty = (args.flags.tty as boolean | undefined) ?? process.stdin.isTTY === true;
  const client = clientFrom(args);
  const path = execSessionPath(id, { task, command, tty });
  let ws: WebSocket;
  try {
    ws = client.webSocket(path);
  } catch (err) {
    throw new ClientError(0, "UNREACHABLE", `cannot reach corral at ${client.base}: ${(err as Error).message} (set CORRAL_ADDR or --addr)`);
  }
  const r = await runSession(ws, { tty, stdin: withStdin, ...(timeout ? { timeoutMs: timeout * 1000 } : {}) }, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
  if (r.kind === "exited") return r.code;
  if (r.kind === "lost") {
    process.stderr.write(`corral: the session ended before the command's exit code came (${r.reason})\n`);
    return 1;
  }
  // Not opened: ask the same path without the upgrade; its answer says why (the refusal, or no such route on an older node).
  const why = await client.get(path).then(() => undefined, (err: unknown) => err);
  if (why instanceof ClientError && (why.status === 405 || (why.status === 404 && why.code === "NOT_FOUND"))) {
    if (tty && process.stdin.isTTY) process.stderr.write("corral: this node has no interactive exec (an older release): running without a terminal\n");
    return oneShot(client, id, command, task, timeout, withStdin);
  }
  if (why instanceof ClientError && why.code !== "UPGRADE_REQUIRED") throw why;
  if (why instanceof Error && !(why instanceof ClientError)) throw why;
  throw new ClientError(0, "UNREACHABLE", `could not open an exec session at ${client.base}`);
}

/** The previous release's route: POST, stdin read whole, NDJSON frames back. */
async function oneShot(client: ApiClient, id: string, command: string[], task: string | undefined, timeout: number | undefined, withStdin: boolean): Promise<number> {
  const stdin = withStdin ? await readStdin() : "";
  const res = await client.stream("POST", `/v1/client/allocation/${encodeURIComponent(id)}/exec`, {
    Command: command, ...(task ? { Task: task } : {}), ...(stdin ? { Stdin: stdin } : {}), ...(timeout ? { TimeoutSeconds: timeout } : {}),
  });
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = "";
  let exit: number | undefined;
  const handle = (line: string) => {
    if (!line.trim()) return;
    const f = JSON.parse(line) as Frame;
    if (f.stdout) process.stdout.write(Buffer.from(f.stdout.data, "base64"));
    if (f.stderr) process.stderr.write(Buffer.from(f.stderr.data, "base64"));
    if (f.exited) {
      exit = f.result?.exit_code ?? 1;
      if (f.error) process.stderr.write(`corral: ${f.error}\n`);
    }
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      handle(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
  handle(buf);
  if (exit === undefined) {
    process.stderr.write("corral: the session ended before the command's exit code came\n");
    return 1;
  }
  return exit;
}
