// The command table and dispatch. Exit codes: 0 ok, 1 failure (an API error,
// a node that could not start), 2 usage or config error.
import { helpText, parseArgs, UsageError, type CommandSpec, type Parsed } from "./args.ts";
import { ClientError } from "./client.ts";
import { ConfigError } from "../config/load.ts";
import { VERSION } from "../version.ts";
import { agentSpec, devSpec, leaderSpec, runNode } from "./commands/run.ts";
import { configCheck, configCheckSpec } from "./commands/config.ts";
import { nodes, nodesSpec } from "./commands/nodes.ts";
import { plugins, pluginsSpec } from "./commands/plugins.ts";
import {
  catalogNodes, catalogNodesSpec, serviceDeregister, serviceDeregisterSpec, serviceRegister, serviceRegisterSpec, services, servicesSpec,
} from "./commands/services.ts";
import { operatorRaft, operatorRaftSpec, operatorSnapshot, operatorSnapshotSpec } from "./commands/operator.ts";
import { kv, kvSpec } from "./commands/kv.ts";
import { jobRun, jobRunSpec } from "./commands/job-run.ts";
import { jobDispatch, jobDispatchSpec, jobPeriodicForce, jobPeriodicForceSpec } from "./commands/job-launch.ts";
import { jobPlan, jobPlanSpec, jobStatus, jobStatusSpec, jobStop, jobStopSpec } from "./commands/jobs.ts";
import { allocLogs, allocLogsSpec, allocStatus, allocStatusSpec, nodeDrain, nodeDrainSpec } from "./commands/alloc.ts";
import { monitor, monitorSpec } from "./commands/monitor.ts";
import { aclBootstrap, aclBootstrapSpec, aclPolicy, aclPolicySpec, aclToken, aclTokenSpec } from "./commands/acl.ts";
import { intention, intentionSpec } from "./commands/intention.ts";

interface Command {
  /** Words that select the command, e.g. ["config", "check"]. */
  path: string[];
  spec: CommandSpec;
  run: (args: Parsed) => Promise<number>;
}

const versionSpec: CommandSpec = { name: "version", summary: "Print the version.", usage: "corral version" };

export const commands: Command[] = [
  { path: ["dev"], spec: devSpec, run: (a) => runNode("dev", a) },
  { path: ["leader"], spec: leaderSpec, run: (a) => runNode("leader", a) },
  { path: ["agent"], spec: agentSpec, run: (a) => runNode("agent", a) },
  { path: ["nodes"], spec: nodesSpec, run: nodes },
  { path: ["plugins"], spec: pluginsSpec, run: plugins },
  { path: ["services"], spec: servicesSpec, run: services },
  { path: ["service", "register"], spec: serviceRegisterSpec, run: serviceRegister },
  { path: ["service", "deregister"], spec: serviceDeregisterSpec, run: serviceDeregister },
  { path: ["catalog", "nodes"], spec: catalogNodesSpec, run: catalogNodes },
  { path: ["kv"], spec: kvSpec, run: kv },
  { path: ["job", "run"], spec: jobRunSpec, run: jobRun },
  { path: ["job", "status"], spec: jobStatusSpec, run: jobStatus },
  { path: ["job", "stop"], spec: jobStopSpec, run: jobStop },
  { path: ["job", "plan"], spec: jobPlanSpec, run: jobPlan },
  { path: ["job", "dispatch"], spec: jobDispatchSpec, run: jobDispatch },
  { path: ["job", "periodic", "force"], spec: jobPeriodicForceSpec, run: jobPeriodicForce },
  { path: ["alloc", "status"], spec: allocStatusSpec, run: allocStatus },
  { path: ["alloc", "logs"], spec: allocLogsSpec, run: allocLogs },
  { path: ["node", "drain"], spec: nodeDrainSpec, run: nodeDrain },
  { path: ["monitor"], spec: monitorSpec, run: monitor },
  { path: ["operator", "raft"], spec: operatorRaftSpec, run: operatorRaft },
  { path: ["operator", "snapshot"], spec: operatorSnapshotSpec, run: operatorSnapshot },
  { path: ["acl", "bootstrap"], spec: aclBootstrapSpec, run: aclBootstrap },
  { path: ["acl", "token"], spec: aclTokenSpec, run: aclToken },
  { path: ["acl", "policy"], spec: aclPolicySpec, run: aclPolicy },
  { path: ["intention"], spec: intentionSpec, run: intention },
  { path: ["config", "check"], spec: configCheckSpec, run: configCheck },
  { path: ["version"], spec: versionSpec, run: async () => (process.stdout.write(`corral ${VERSION}\n`), 0) },
];

export function topHelp(): string {
  const w = Math.max(...commands.map((c) => c.path.join(" ").length)) + 2;
  return [
    "corral: cluster resource manager with service governance, in one binary.",
    "",
    "Usage: corral <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.path.join(" ").padEnd(w)}${c.spec.summary.split(". ")[0]!.replace(/\.$/, "")}`),
    "",
    "Run `corral <command> --help` for a command's options.",
    "Client commands talk to $CORRAL_ADDR (default http://127.0.0.1:7700) with $CORRAL_TOKEN.",
    "",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const words = argv.filter((a) => !a.startsWith("-"));
  const cmd = [...commands]
    .sort((a, b) => b.path.length - a.path.length)
    .find((c) => c.path.every((p, i) => words[i] === p) && argv.slice(0, c.path.length).join(" ") === c.path.join(" "));
  if (!cmd) {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
      process.stdout.write(topHelp());
      return 0;
    }
    if (argv[0] === "--version" || argv[0] === "-v") {
      process.stdout.write(`corral ${VERSION}\n`);
      return 0;
    }
    process.stderr.write(`corral: unknown command "${argv.join(" ")}"\n\n${topHelp()}`);
    return 2;
  }
  try {
    const args = parseArgs(argv.slice(cmd.path.length), cmd.spec.flags);
    if (args.help) {
      process.stdout.write(helpText(cmd.spec));
      return 0;
    }
    return await cmd.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`corral ${cmd.path.join(" ")}: ${err.message}\n\n${helpText(cmd.spec)}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(err.message.split("\n").map((l) => `corral: config error: ${l}`).join("\n") + "\n");
      return 2;
    }
    if (err instanceof ClientError) {
      process.stderr.write(`corral: ${err.message}${err.code && err.status ? ` (${err.status} ${err.code})` : ""}\n`);
      return 1;
    }
    process.stderr.write(`corral: ${(err as Error)?.message ?? String(err)}\n`);
    return 1;
  }
}
