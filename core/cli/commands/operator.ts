// `corral operator raft list-peers|add-peer ADDR|remove-peer ADDR|transfer-leader [ADDR]`
// `corral operator snapshot save FILE|restore FILE`
import { readFileSync, writeFileSync, renameSync, rmSync } from "node:fs";
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { ClientError } from "../client.ts";
import { table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const operatorRaftSpec: CommandSpec = {
  name: "operator raft",
  actions: ["list-peers", "add-peer", "remove-peer", "transfer-leader"],
  summary: "Inspect and change the leader-role (Raft) members.",
  usage: "corral operator raft list-peers|add-peer ADDR|remove-peer ADDR|transfer-leader [ADDR] [--json]",
  flags: { ...clientFlags },
  details: "ADDR is a leader-role node's advertised host:port. A node to add must run with raft.join = true.",
};

export const operatorSnapshotSpec: CommandSpec = {
  name: "operator snapshot",
  actions: ["save", "restore"],
  summary: "Save a consistent backup of the whole cluster state, or restore one.",
  usage: "corral operator snapshot save FILE|restore FILE",
  flags: { ...clientFlags },
  details: "save writes the state as of one log index; restore replaces every leader-role node's state with it, through the log.",
};

interface RaftStatus {
  id: string;
  role: string;
  term: number;
  leader: string | null;
  commitIndex: number;
  appliedIndex: number;
  members: { address: string; leader: boolean; voter: boolean; matchIndex?: number }[];
}

export async function operatorRaft(args: Parsed): Promise<number> {
  const [action = "list-peers", addr] = args.positionals;
  const client = clientFrom(args);
  const out = (v: unknown, text: string) => process.stdout.write(args.flags.json ? JSON.stringify(v, null, 2) + "\n" : text + "\n");
  switch (action) {
    case "list-peers": {
      const st = await client.get<RaftStatus>("/v1/operator/raft");
      const rows = st.members.map((m) => [m.address, m.leader ? "leader" : "follower", m.voter ? "true" : "false", m.matchIndex ?? "-"]);
      out(st, `${table(["ADDRESS", "STATE", "VOTER", "MATCH"], rows)}\n\nterm ${st.term}, commit ${st.commitIndex}, applied ${st.appliedIndex} (asked ${st.id}, a ${st.role})`);
      return 0;
    }
    case "add-peer":
      if (!addr) throw new UsageError("add-peer needs the new node's ADDR (host:port)");
      out(await client.post("/v1/operator/raft/peers", { address: addr }), `added ${addr}`);
      return 0;
    case "remove-peer":
      if (!addr) throw new UsageError("remove-peer needs the node's ADDR (host:port)");
      out(await client.delete(`/v1/operator/raft/peers/${encodeURIComponent(addr)}`), `removed ${addr}`);
      return 0;
    case "transfer-leader": {
      const r = await client.post<{ leader: string | null }>("/v1/operator/raft/transfer-leader", addr ? { to: addr } : {});
      out(r, `leader is now ${r.leader ?? "(electing)"}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown operator raft action "${action}"`);
  }
}

export async function operatorSnapshot(args: Parsed): Promise<number> {
  const [action, file] = args.positionals;
  if (!file || (action !== "save" && action !== "restore")) throw new UsageError("use: operator snapshot save FILE | restore FILE");
  const client = clientFrom(args);
  if (action === "save") {
    const res = await client.raw("GET", "/v1/snapshot");
    const data = await res.text();
    if (!res.ok) throw new ClientError(res.status, `HTTP_${res.status}`, data.slice(0, 500) || res.statusText);
    // Write then rename: an interrupted save never leaves a truncated backup under FILE.
    // A fresh file (O_EXCL): `mode` applies only to a file this call creates, and a
    // leftover (or planted, in a shared folder) FILE.part with mode 0644 kept it,
    // leaving every token hash and KV value world-readable.
    rmSync(file + ".part", { force: true });
    writeFileSync(file + ".part", data, { mode: 0o600, flag: "wx" });
    renameSync(file + ".part", file);
    process.stdout.write(`saved snapshot at index ${res.headers.get("x-corral-index")} to ${file} (${data.length} bytes)\n`);
    return 0;
  }
  const data = readFileSync(file, "utf8");
  const r = await client.request<{ index: number }>("PUT", "/v1/snapshot", data, "application/json");
  process.stdout.write(`restored ${file} at index ${r.index}\n`);
  return 0;
}
