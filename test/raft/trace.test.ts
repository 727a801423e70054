// Every input to a RaftNode, peers' messages and local operations alike,
// passes one step and so one trace point (RaftConfig.trace); a local
// operation cannot be smuggled in as a network message.
import { expect, test } from "bun:test";
import { RaftNode, type RaftInput } from "../../core/raft/index.ts";
import { mulberry32 } from "../sim/prng.ts";

test("tick, campaign, propose, read index, conf change, transfer, compact and peer messages all pass the trace point", () => {
  const seen: RaftInput["type"][] = [];
  const node = new RaftNode({ id: "a", peers: ["a"], electionTicks: 10, heartbeatTicks: 1, rng: mulberry32(1).next, trace: (i, id) => (expect(id).toBe("a"), seen.push(i.type)) });
  node.tick();
  node.campaign();
  expect(node.status().role).toBe("leader");
  expect(node.propose("x").ok).toBe(true);
  node.readIndex("r1");
  node.proposeConfChange({ type: "add", node: "b" });
  node.transferLeadership("a");
  node.compact({ index: 1, term: 1, data: "" });
  node.step({ type: "Heartbeat", from: "b", to: "a", term: 1, commit: 0, readSeq: 0 });
  expect(seen).toEqual(["Tick", "Campaign", "Propose", "ReadIndex", "ProposeConfChange", "TransferLeadership", "Compact", "Heartbeat"]);
});

test("a local operation arriving as a peer's message is ignored", () => {
  const seen: string[] = [];
  const node = new RaftNode({ id: "a", peers: ["a"], electionTicks: 10, heartbeatTicks: 1, rng: mulberry32(1).next, trace: (i) => seen.push(i.type) });
  node.campaign();
  const before = node.status().lastIndex;
  node.step({ type: "Propose", data: "smuggled", from: "b", to: "a", term: 99 } as never);
  node.step({ type: "Campaign", from: "b", to: "a", term: 99 } as never);
  expect(node.status().lastIndex).toBe(before);
  expect(node.status().term).toBe(2);
  expect(seen).toEqual(["Campaign"]);
});
