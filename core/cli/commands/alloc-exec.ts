// `corral alloc exec [--task T] ID -- CMD ARGS…` (Nomad's alloc exec): runs
// a command inside a running task and exits with its exit code. The node
// answers with newline-delimited JSON frames (plugins/exec/exec-session.ts);
// their output is written to this process's stdout and stderr as it comes.
// Not interactive: stdin, when it is not a terminal, is read to its end and
// sent with the request; no terminal is allocated in the task.
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const allocExecSpec: CommandSpec = {
  name: "alloc exec",
  summary: "Run a command inside a running task (its sandbox and user, or its container) and exit with its exit code.",
  usage: "corral alloc exec [--task T] ID -- CMD [ARGS...] [--addr URL] [--token TOKEN]",
  details: "Output is streamed as the command writes it. Standard input, when it is not a terminal, is read whole and given to the command (no interactive terminal). Needs alloc_exec:write on the allocation's job (and operator:write for a raw task).",
  flags: {
    task: { type: "string", value: "T", help: "The task (needed when the allocation has several)" },
    timeout: { type: "string", value: "SECONDS", help: "End the command after this many seconds (default 3600)" },
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

export async function allocExec(args: Parsed): Promise<number> {
  const [id, ...command] = args.positionals;
  if (!id || command.length === 0) throw new UsageError("expected an allocation ID and a command: corral alloc exec ID -- CMD [ARGS...]");
  const task = args.flags.task as string | undefined;
  const timeout = args.flags.timeout === undefined ? undefined : Number(args.flags.timeout);
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 1)) throw new UsageError(`--timeout takes a whole number of seconds, not "${String(args.flags.timeout)}"`);
  const stdin = await readStdin();
  const res = await clientFrom(args).stream("POST", `/v1/client/allocation/${encodeURIComponent(id)}/exec`, {
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
