// `corral session list|info ID|destroy ID`: Consul sessions, for people.
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const sessionSpec: CommandSpec = {
  name: "session",
  summary: "List, show or destroy sessions (locks held through the KV store).",
  usage: "corral session list [--node NAME] | info ID | destroy ID [--json] [--addr URL] [--token TOKEN]",
  flags: { ...clientFlags, node: { type: "string", value: "NAME", help: "list: only this node's sessions" } },
  details: "Destroying a session releases its locks (or deletes its keys, Behavior delete) and starts their lock-delay.",
};

interface Session {
  ID: string;
  Name: string;
  Node: string;
  TTL: string;
  Behavior: string;
  LockDelay: number;
  NodeChecks: string[] | null;
  CreateIndex: number;
}

export async function session(args: Parsed): Promise<number> {
  const [action, id] = args.positionals;
  const client = clientFrom(args);
  const print = (list: Session[]) => {
    if (args.flags.json) return process.stdout.write(JSON.stringify(list, null, 2) + "\n");
    process.stdout.write(table(["ID", "NAME", "NODE", "TTL", "BEHAVIOR", "LOCK DELAY", "CHECKS"],
      list.map((s) => [s.ID, s.Name || "-", s.Node, s.TTL || "-", s.Behavior, `${s.LockDelay / 1e9}s`, (s.NodeChecks ?? []).join(",") || "-"])) + "\n");
  };
  switch (action) {
    case "list": {
      const node = args.flags.node as string | undefined;
      print(await client.get<Session[]>(node ? `/v1/session/node/${encodeURIComponent(node)}` : "/v1/session/list"));
      return 0;
    }
    case "info": {
      if (!id) throw new UsageError("session info needs an ID");
      const list = await client.get<Session[]>(`/v1/session/info/${encodeURIComponent(id)}`);
      if (list.length === 0) {
        process.stderr.write(`corral: no session ${id}\n`);
        return 1;
      }
      print(list);
      return 0;
    }
    case "destroy": {
      if (!id) throw new UsageError("session destroy needs an ID");
      await client.put(`/v1/session/destroy/${encodeURIComponent(id)}`);
      process.stdout.write(`destroyed session ${id}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown session action "${action ?? ""}" (list, info, destroy)`);
  }
}
