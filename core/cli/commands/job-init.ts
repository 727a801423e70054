// `corral job init [--short] [FILE]`: write a first job that runs as
// written on a dev node (issue 15, point 9). The example is a small HTTP
// service — corral's own `demo-server`, so nothing else must be installed —
// with an HTTP check, registered as service "hello" and reachable by name
// through the invoke proxy. docs/jobs.md starts with it; a test runs it.
//
// Why raw_exec: an `exec` task runs as `nobody`, which needs a root agent and
// a corral binary `nobody` may execute (not true of a checkout under /root,
// or of any agent started as a user); a raw task runs as the agent's own
// user, which can always run the agent's own binary. `corral dev` started
// without --config allows raw tasks for that reason (core/cli/dev-defaults.ts).
import { existsSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";

export const jobInitSpec: CommandSpec = {
  name: "job init",
  summary: "Write an example job file (a small HTTP service with a health check) that runs as written on a dev node.",
  usage: "corral job init [--short] [FILE]",
  details: [
    "FILE defaults to example.toml; an existing file is never overwritten.",
    "The task is this corral's own `demo-server`, started through the path of the corral you ran, as raw_exec:",
    "`corral dev` without --config allows that; any other node needs [plugins.exec] allow_raw = true (docs/exec.md).",
  ].join("\n"),
  flags: { short: { type: "boolean", help: "Leave out the explanatory comments" } },
};

/**
 * The command line that runs this corral again: the executable, plus the
 * script when it is a runtime running corral's entry file (`bun core/main.ts`,
 * `node dist/corral.mjs`); a compiled binary is its own command.
 */
export function selfCommand(execPath = process.execPath, argv1 = process.argv[1]): string[] {
  const script = argv1 && /\.(m?[jt]s)$/.test(argv1) && !argv1.startsWith("/$bunfs/") && existsSync(argv1) ? resolve(argv1) : undefined;
  return script ? [execPath, script] : [execPath];
}

const toml = (s: string) => JSON.stringify(s);

/** The example job, commented (or not). `self` is the command line of corral (selfCommand()). Pure. */
export function exampleJob(self: readonly string[], short: boolean): string {
  const [command, ...pre] = self;
  const args = [...pre, "demo-server"].map(toml).join(", ");
  const long = `# A first job: two copies of a small HTTP service, registered in the catalog
# as "hello" with a health check, reachable by name through the invoke proxy.
# \`corral job init\` wrote it. On a dev node (\`npm start\`, or \`corral dev\`):
#
#   corral job run example.toml
#   curl -s http://127.0.0.1:7700/v1/invoke/hello/     # through the API port
#   curl -s -H "Host: hello" http://127.0.0.1:7701/    # through the invoke proxy
#   corral job status hello
#   corral job stop hello
#
# Every key is described in docs/jobs.md.

# Unique within its namespace ("default" unless \`namespace\` says otherwise).
id = "hello"
# "service" runs until stopped; "batch" runs to completion; "system" and
# "sysbatch" run one copy on every node.
type = "service"

# A group is the unit of placement: all its tasks land on the same node.
[[groups]]
name = "web"
# How many copies of the group to run.
count = 2

  # A new version rolls out one copy at a time; a copy counts once its
  # check has passed for min_healthy_time.
  [groups.update]
  max_parallel = 1
  min_healthy_time = "2s"
  healthy_deadline = "1m"

  [[groups.tasks]]
  name = "server"
  # raw_exec runs the task as the node's own user, so it can run the node's
  # own binary. \`corral dev\` without --config allows it (as Nomad's -dev
  # agent allows raw_exec); other nodes need [plugins.exec] allow_raw = true,
  # and with ACLs the submitter needs operator:write (docs/exec.md).
  driver = "raw_exec"
  # corral's built-in demo server (\`corral demo-server --help\`), through the
  # path of the corral that wrote this file.
  command = ${toml(command!)}
  args = [${args}]
  # Reserved on the node: CPU in MHz, memory in MB.
  resources = { cpu = 100, memory = 256 }

    # A free port from the node's dynamic range, given to the task as
    # $CORRAL_PORT_HTTP (the demo server listens there).
    [groups.tasks.ports]
    http = {}

    # Registers each copy in the catalog (and DNS: hello.service.corral).
    [groups.tasks.service]
    name = "hello"
    port = "http"

      # A copy is healthy while GET /health answers 2xx; the invoke proxy
      # only sends calls to healthy copies.
      [[groups.tasks.service.checks]]
      type = "http"
      path = "/health"
      interval = "2s"
      timeout = "1s"
`;
  if (!short) return long;
  // The same job without comments or blank lines inside tables.
  return long.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n").replace(/\n{3,}/g, "\n\n").replace(/^\n+/, "");
}

export async function jobInit(args: Parsed): Promise<number> {
  if (args.positionals.length > 1) throw new UsageError("expected at most one FILE");
  const file = args.positionals[0] ?? "example.toml";
  if (existsSync(file)) {
    process.stderr.write(`corral: ${file} already exists; not overwriting it (name another FILE)\n`);
    return 1;
  }
  writeFileSync(file, exampleJob(selfCommand(), args.flags.short === true), { flag: "wx" });
  process.stdout.write(`Example job written to ${file}; run it with \`corral job run ${file}\` on a dev node (\`corral dev\`).\n`);
  return 0;
}
