// A rolling upgrade: three leader-role nodes of the previous release (2723b2f,
// checked out from git history) are replaced one at a time by this tree's
// binary on the same data dirs and ports, followers first and the leader
// last, while a client keeps writing KV entries through whichever node
// answers. Every write that was acknowledged is readable at the end, from
// every node. The procedure is the one docs/operations.md ("Upgrading")
// gives operators, across the change of the node RPC signature format
// (core/http/rpc-signature.ts: the previous release signs and accepts only
// v1): phase 1 upgrades each node with cluster.legacy_signatures = "send"
// (signs v1, accepts both), phase 2 restarts each with "accept" (signs v2,
// accepts both), phase 3 with "off" (v2 only). No node ever refuses a
// peer's signature on the way.
import { afterAll, expect, test } from "bun:test";
import { getJson, killAll, sleep, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { TestCluster } from "../helpers/cluster.ts";
import { prevReleaseTree, type PrevTree } from "./prev-release.ts";

let tree: PrevTree | undefined;
afterAll(async () => {
  await killAll();
  tree?.remove();
});

/** TestCluster whose node i runs `entries[i]` (a release's core/main.ts; undefined: this tree). */
class MixedCluster extends TestCluster {
  entries: (string | undefined)[] = [];
  /** cluster.legacy_signatures of node i (this tree only; the previous release has no such key). */
  legacy: (string | undefined)[] = [];
  override async startNode(i: number): Promise<CorralProcess> {
    const n = this.nodes[i]!;
    const env = this.legacy[i] ? { CORRAL_CLUSTER_LEGACY_SIGNATURES: this.legacy[i]! } : undefined;
    n.proc = await startCorral({ role: "leader", port: n.port, dataDir: n.dataDir, config: this.config(i), entry: this.entries[i], env });
    return n.proc;
  }
}

/** A node refusing a peer's signature, or a peer refusing ours: the log lines a format mismatch produces. */
const SIGNATURE_TROUBLE = /refused our signature|"code":"SIGNATURE_(LEGACY|MALFORMED|INVALID)"|missing or invalid cluster signature/;

/** Writes w/0, w/1, … through any node that answers; `acked` holds what was acknowledged. */
function startWriter(urls: () => string[]) {
  const acked: string[] = [];
  let failures = 0;
  let stop = false;
  const done = (async () => {
    for (let n = 0, at = 0; !stop; n++) {
      const key = `w/${String(n).padStart(6, "0")}`;
      for (let tries = 0; !stop; tries++, at++) {
        const list = urls();
        const url = list[at % list.length]!;
        try {
          const r = await fetch(`${url}/v1/kv/${key}`, { method: "PUT", body: key, signal: AbortSignal.timeout(5000) });
          if (r.ok && (await r.json()) === true) {
            acked.push(key);
            break;
          }
        } catch {
          // that node is down or restarting: the next one
        }
        failures++;
        await sleep(50);
      }
      await sleep(5);
    }
  })();
  return { acked, failures: () => failures, stop: async () => ((stop = true), await done) };
}

async function raftStatus(url: string): Promise<any | undefined> {
  try {
    return (await getJson(url + "/v1/operator/raft", { signal: AbortSignal.timeout(2000) })).body;
  } catch {
    return undefined;
  }
}

test("three nodes of the previous release, upgraded one at a time (legacy signatures \"send\", then \"accept\", then \"off\") while a client writes: nothing acknowledged is lost", async () => {
  const prev = prevReleaseTree();
  if ("skip" in prev) {
    console.log(`skipped: ${prev.skip}`);
    return;
  }
  tree = prev;
  const cluster = new MixedCluster({ size: 3, direct: true, electionTimeoutMs: 1500, heartbeatMs: 150 });
  cluster.entries = [prev.entry, prev.entry, prev.entry];
  await cluster.start();
  await cluster.waitLeader(30_000);
  const writer = startWriter(() => cluster.nodes.filter((n) => n.proc).map((n) => n.url));
  const ackedBefore: number[] = [];
  const logs: { node: number; mode: string; output: string }[] = [];
  try {
    await sleep(1000);
    // Phase 1 upgrades (this tree, "send"); phases 2 and 3 are rolling restarts
    // of this tree with "accept", then "off". Each: followers first, the
    // leader last (it hands over leadership as it stops).
    for (const [phase, mode] of [[1, "send"], [2, "accept"], [3, "off"]] as const) {
      const leader = await cluster.waitLeader(30_000);
      const order = [...cluster.nodes.map((n) => n.index).filter((i) => i !== leader), leader];
      for (const i of order) {
        ackedBefore.push(writer.acked.length);
        const before = cluster.nodes[i]!.proc?.output() ?? "";
        await cluster.kill(i, "SIGTERM");
        if (phase > 1) logs.push({ node: i, mode: cluster.legacy[i]!, output: before });
        cluster.entries[i] = undefined; // this tree
        cluster.legacy[i] = mode;
        await cluster.startNode(i);
        // Caught up: it applied what the leader had committed when it came back.
        const l = await cluster.waitLeader(30_000);
        const target = (await raftStatus(cluster.nodes[l]!.url))?.commitIndex ?? 0;
        const deadline = Date.now() + 30_000;
        while (((await raftStatus(cluster.nodes[i]!.url))?.appliedIndex ?? 0) < target) {
          if (Date.now() > deadline) {
            const tail = (k: number) => (cluster.nodes[k]!.proc?.output() ?? "").split("\n").filter((l) => !l.includes('"level":"debug"')).slice(-15).join("\n");
            throw new Error(`node ${i} did not catch up to ${target}\n--- node ${i} (this tree):\n${tail(i)}\n--- leader ${l}:\n${tail(l)}`);
          }
          await sleep(100);
        }
        await sleep(500); // let writes flow through the mixed cluster
      }
    }
    ackedBefore.push(writer.acked.length);
  } finally {
    await writer.stop();
  }
  for (const n of cluster.nodes) logs.push({ node: n.index, mode: cluster.legacy[n.index]!, output: n.proc?.output() ?? "" });
  // No signature was refused either way at any step (this tree's processes; the previous release logs no refusals).
  for (const l of logs) {
    const trouble = l.output.split("\n").filter((line) => SIGNATURE_TROUBLE.test(line)).slice(0, 3);
    expect({ node: l.node, mode: l.mode, trouble }).toEqual({ node: l.node, mode: l.mode, trouble: [] });
    // While v1 is accepted the node says replay protection is off; at the end it does not.
    expect({ node: l.node, mode: l.mode, warned: l.output.includes("legacy v1 signatures accepted: replay protection is off") })
      .toEqual({ node: l.node, mode: l.mode, warned: l.mode !== "off" });
  }
  const acked = writer.acked;
  console.log(`rolling upgrade: ${acked.length} writes acknowledged, ${writer.failures()} attempts refused or failed while nodes restarted; per phase ${ackedBefore.join(" → ")}`);
  // Writes went on through every step of the upgrade.
  for (let k = 1; k < ackedBefore.length; k++) expect(ackedBefore[k]!).toBeGreaterThan(ackedBefore[k - 1]!);
  // Every node, now all on this tree, has every acknowledged write.
  for (const n of cluster.nodes) {
    const r = await getJson(`${n.url}/v1/kv/w/?keys&consistent`);
    const have = new Set(r.body as string[]);
    const missing = acked.filter((k) => !have.has(k));
    expect({ node: n.index, missing: missing.slice(0, 5), count: missing.length }).toEqual({ node: n.index, missing: [], count: 0 });
  }
  await cluster.stop();
}, 600_000);
