// The command table and dispatch. Exit codes: 0 ok, 1 failure (an API error,
// a node that could not start), 2 usage or config error.
import { helpText, parseArgs, UsageError, type CommandSpec, type Parsed } from "./args.ts";
import { ACL_FILTERED_NOTE, ClientError, watchAclFiltering } from "./client.ts";
import { didYouMean } from "./suggest.ts";
import { ConfigError } from "../config/load.ts";
import { VERSION } from "../version.ts";
import { agentSpec, devSpec, leaderSpec } from "./commands/node-specs.ts";
import { configCheck, configCheckSpec } from "./commands/config.ts";
import { systemGc, systemGcSpec } from "./commands/system.ts";
import { nodes, nodesSpec } from "./commands/nodes.ts";
import { nodeMeta, nodeMetaSpec } from "./commands/node-meta.ts";
import { plugins, pluginsSpec } from "./commands/plugins.ts";
import {
  catalogNodes, catalogNodesSpec, serviceDeregister, serviceDeregisterSpec, serviceRegister, serviceRegisterSpec, services, servicesSpec,
} from "./commands/services.ts";
import { operatorRaft, operatorRaftSpec, operatorSnapshot, operatorSnapshotSpec } from "./commands/operator.ts";
import { kv, kvSpec } from "./commands/kv.ts";
import { variable, varSpec } from "./commands/var.ts";
import { operatorKeyring, operatorKeyringSpec } from "./commands/keyring.ts";
import { operatorCa, operatorCaSpec } from "./commands/ca.ts";
import { lock, lockSpec } from "./commands/lock.ts";
import { session, sessionSpec } from "./commands/session.ts";
import { jobRun, jobRunSpec } from "./commands/job-run.ts";
import { jobDispatch, jobDispatchSpec, jobPeriodicForce, jobPeriodicForceSpec } from "./commands/job-launch.ts";
import { jobHistory, jobHistorySpec, jobRevert, jobRevertSpec } from "./commands/job-versions.ts";
import { jobPlan, jobPlanSpec, jobStatus, jobStatusSpec, jobStop, jobStopSpec } from "./commands/jobs.ts";
import { allocLogs, allocLogsSpec, allocStatus, allocStatusSpec, nodeDrain, nodeDrainSpec } from "./commands/alloc.ts";
import { monitor, monitorSpec } from "./commands/monitor.ts";
import { allocExec, allocExecSpec } from "./commands/alloc-exec.ts";
import {
  allocRestart, allocRestartSpec, allocSignal, allocSignalSpec, allocStop, allocStopSpec, jobRestart, jobRestartSpec,
} from "./commands/alloc-operate.ts";
import { aclBootstrap, aclBootstrapSpec, aclPolicy, aclPolicySpec, aclToken, aclTokenSpec } from "./commands/acl.ts";
import { intention, intentionSpec } from "./commands/intention.ts";
import { jobInit, jobInitSpec } from "./commands/job-init.ts";
import { jobValidate, jobValidateSpec } from "./commands/job-validate.ts";
import { demoServer, demoServerSpec } from "./commands/demo-server.ts";
import {
  deploymentFail, deploymentFailSpec, deploymentList, deploymentListSpec, deploymentPromote, deploymentPromoteSpec, deploymentStatus, deploymentStatusSpec,
} from "./commands/deployment.ts";

interface Command {
  /** Words that select the command, e.g. ["config", "check"]. */
  path: string[];
  spec: CommandSpec;
  run: (args: Parsed) => Promise<number>;
}

const versionSpec: CommandSpec = { name: "version", summary: "Print the version.", usage: "corral version" };

export const commands: Command[] = [
  // The node itself is loaded only when one starts (node-specs.ts).
  { path: ["dev"], spec: devSpec, run: async (a) => (await import("./commands/run.ts")).runNode("dev", a) },
  { path: ["leader"], spec: leaderSpec, run: async (a) => (await import("./commands/run.ts")).runNode("leader", a) },
  { path: ["agent"], spec: agentSpec, run: async (a) => (await import("./commands/run.ts")).runNode("agent", a) },
  { path: ["nodes"], spec: nodesSpec, run: nodes },
  { path: ["plugins"], spec: pluginsSpec, run: plugins },
  { path: ["services"], spec: servicesSpec, run: services },
  { path: ["service", "register"], spec: serviceRegisterSpec, run: serviceRegister },
  { path: ["service", "deregister"], spec: serviceDeregisterSpec, run: serviceDeregister },
  { path: ["catalog", "nodes"], spec: catalogNodesSpec, run: catalogNodes },
  { path: ["kv"], spec: kvSpec, run: kv },
  { path: ["var"], spec: varSpec, run: variable },
  { path: ["lock"], spec: lockSpec, run: lock },
  { path: ["session"], spec: sessionSpec, run: session },
  { path: ["job", "init"], spec: jobInitSpec, run: jobInit },
  { path: ["job", "run"], spec: jobRunSpec, run: jobRun },
  { path: ["job", "status"], spec: jobStatusSpec, run: jobStatus },
  { path: ["job", "stop"], spec: jobStopSpec, run: jobStop },
  { path: ["job", "plan"], spec: jobPlanSpec, run: jobPlan },
  { path: ["job", "validate"], spec: jobValidateSpec, run: jobValidate },
  { path: ["job", "dispatch"], spec: jobDispatchSpec, run: jobDispatch },
  { path: ["job", "history"], spec: jobHistorySpec, run: jobHistory },
  { path: ["job", "revert"], spec: jobRevertSpec, run: jobRevert },
  { path: ["job", "periodic", "force"], spec: jobPeriodicForceSpec, run: jobPeriodicForce },
  { path: ["deployment", "list"], spec: deploymentListSpec, run: deploymentList },
  { path: ["deployment", "status"], spec: deploymentStatusSpec, run: deploymentStatus },
  { path: ["deployment", "promote"], spec: deploymentPromoteSpec, run: deploymentPromote },
  { path: ["deployment", "fail"], spec: deploymentFailSpec, run: deploymentFail },
  { path: ["alloc", "status"], spec: allocStatusSpec, run: allocStatus },
  { path: ["alloc", "logs"], spec: allocLogsSpec, run: allocLogs },
  { path: ["alloc", "restart"], spec: allocRestartSpec, run: allocRestart },
  { path: ["alloc", "signal"], spec: allocSignalSpec, run: allocSignal },
  { path: ["alloc", "exec"], spec: allocExecSpec, run: allocExec },
  { path: ["alloc", "stop"], spec: allocStopSpec, run: allocStop },
  { path: ["job", "restart"], spec: jobRestartSpec, run: jobRestart },
  { path: ["node", "drain"], spec: nodeDrainSpec, run: nodeDrain },
  { path: ["node", "meta"], spec: nodeMetaSpec, run: nodeMeta },
  { path: ["monitor"], spec: monitorSpec, run: monitor },
  { path: ["operator", "raft"], spec: operatorRaftSpec, run: operatorRaft },
  { path: ["operator", "snapshot"], spec: operatorSnapshotSpec, run: operatorSnapshot },
  { path: ["operator", "keyring"], spec: operatorKeyringSpec, run: operatorKeyring },
  { path: ["operator", "ca"], spec: operatorCaSpec, run: operatorCa },
  { path: ["acl", "bootstrap"], spec: aclBootstrapSpec, run: aclBootstrap },
  { path: ["acl", "token"], spec: aclTokenSpec, run: aclToken },
  { path: ["acl", "policy"], spec: aclPolicySpec, run: aclPolicy },
  { path: ["intention"], spec: intentionSpec, run: intention },
  { path: ["config", "check"], spec: configCheckSpec, run: configCheck },
  { path: ["system", "gc"], spec: systemGcSpec, run: systemGc },
  { path: ["demo-server"], spec: demoServerSpec, run: demoServer },
  { path: ["version"], spec: versionSpec, run: async () => (process.stdout.write(`corral ${VERSION}\n`), 0) },
];

/** Words that lead to several commands ("job" → run, status, stop, plan): each answers `corral WORD --help`. */
export function commandGroups(): Map<string, Command[]> {
  const groups = new Map<string, Command[]>();
  for (const c of commands) {
    if (c.path.length < 2) continue;
    const g = groups.get(c.path[0]!) ?? [];
    g.push(c);
    groups.set(c.path[0]!, g);
  }
  return groups;
}

function summaryLine(spec: CommandSpec): string {
  return spec.summary.split(". ")[0]!.replace(/\.$/, "");
}

export function topHelp(): string {
  const w = Math.max(...commands.map((c) => c.path.join(" ").length)) + 2;
  return [
    "corral: cluster resource manager with service governance, in one binary.",
    "",
    "Usage: corral <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.path.join(" ").padEnd(w)}${summaryLine(c.spec)}`),
    "",
    "Run `corral <command> --help` for a command's options.",
    "Client commands talk to $CORRAL_ADDR (default http://127.0.0.1:7700) with $CORRAL_TOKEN.",
    "",
  ].join("\n");
}

export function groupHelp(word: string, members: Command[]): string {
  const w = Math.max(...members.map((c) => c.path.slice(1).join(" ").length)) + 2;
  return [
    `Usage: corral ${word} <subcommand> [options]`,
    "",
    "Subcommands:",
    ...members.map((c) => `  ${c.path.slice(1).join(" ").padEnd(w)}${summaryLine(c.spec)}`),
    "",
    `Run \`corral ${word} <subcommand> --help\` for its options.`,
    "",
  ].join("\n");
}

const HELP = new Set(["--help", "-h", "help"]);

/** Help or a "did you mean" for argv that names no command. */
function noCommand(argv: string[]): number {
  if (argv.length === 0 || HELP.has(argv[0]!)) {
    process.stdout.write(topHelp());
    return 0;
  }
  if (argv[0] === "--version" || argv[0] === "-v") {
    process.stdout.write(`corral ${VERSION}\n`);
    return 0;
  }
  const group = commandGroups().get(argv[0]!);
  if (group) {
    const sub = argv[1];
    if (sub !== undefined && HELP.has(sub)) {
      process.stdout.write(groupHelp(argv[0]!, group));
      return 0;
    }
    const what = sub === undefined || sub.startsWith("-") ? `corral ${argv[0]}: a subcommand is needed` : `corral: unknown command "${argv[0]} ${sub}"${didYouMean(sub, group.map((c) => c.path[1]!))}`;
    process.stderr.write(`${what}\n\n${groupHelp(argv[0]!, group)}`);
    return 2;
  }
  const words = [...new Set([...commands.map((c) => c.path[0]!), "help"])];
  process.stderr.write(`corral: unknown command "${argv[0]}"${didYouMean(argv[0]!, words)}\n\nRun \`corral --help\` for the list of commands.\n`);
  return 2;
}

export async function main(argv: string[]): Promise<number> {
  // `corral help job run` is `corral job run --help`.
  if (argv[0] === "help" && argv.length > 1) return main([...argv.slice(1), "--help"]);
  const words = argv.filter((a) => !a.startsWith("-"));
  const cmd = [...commands]
    .sort((a, b) => b.path.length - a.path.length)
    .find((c) => c.path.every((p, i) => words[i] === p) && argv.slice(0, c.path.length).join(" ") === c.path.join(" "));
  if (!cmd) return noCommand(argv);
  const filtered = watchAclFiltering();
  try {
    const args = parseArgs(argv.slice(cmd.path.length), cmd.spec.flags);
    if (args.help) {
      process.stdout.write(helpText(cmd.spec));
      return 0;
    }
    const action = args.positionals[0];
    if (cmd.spec.actions && action !== undefined && !cmd.spec.actions.includes(action)) {
      throw new UsageError(`unknown action "${action}"${didYouMean(action, cmd.spec.actions)}; one of ${cmd.spec.actions.join(", ")}`);
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
  } finally {
    // On stderr, so --json output stays parseable; said once, whatever the command.
    if (filtered.seen()) process.stderr.write(`corral: ${ACL_FILTERED_NOTE}\n`);
    filtered.stop();
  }
}
