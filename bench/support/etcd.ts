// A three-member etcd cluster on loopback for the benches that measure
// corral beside etcd (raft.ts, locks.ts): Debian's etcd-server, fresh data
// dirs, free ports, and the client URL of whichever member leads.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../test/helpers/proc.ts";

export interface EtcdCluster {
  /** Client URL of the leader (writes go there, as a client library would find it). */
  leaderUrl: string;
  procs: ChildProcess[];
  urls: string[];
  stop(): Promise<void>;
}

export async function startEtcdCluster(token: string): Promise<EtcdCluster | { skipped: string }> {
  if (spawnSync("etcd", ["--version"]).status !== 0) return { skipped: "etcd not installed (apt-get install etcd-server)" };
  const dir = mkdtempSync(join(tmpdir(), `etcd-${token}-`));
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const names = ["e0", "e1", "e2"];
  const cluster = names.map((n, i) => `${n}=http://127.0.0.1:${ports[i * 2 + 1]}`).join(",");
  const procs: ChildProcess[] = names.map((name, i) =>
    spawn("etcd", [
      "--name", name, "--data-dir", join(dir, name),
      "--listen-client-urls", `http://127.0.0.1:${ports[i * 2]}`, "--advertise-client-urls", `http://127.0.0.1:${ports[i * 2]}`,
      "--listen-peer-urls", `http://127.0.0.1:${ports[i * 2 + 1]}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${ports[i * 2 + 1]}`,
      "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", token,
      "--log-level", "error",
    ], { stdio: "ignore" }),
  );
  const stop = async () => {
    for (const p of procs) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  const urls = names.map((_, i) => `http://127.0.0.1:${ports[i * 2]}`);
  let leaderUrl: string | undefined;
  for (let t = 0; t < 200 && !leaderUrl; t++) {
    for (const u of urls) {
      const st = await fetch(u + "/v3/maintenance/status", { method: "POST", body: "{}" }).then((r) => r.json()).catch(() => undefined) as
        | { header?: { member_id?: string }; leader?: string } | undefined;
      if (st?.leader && st.header?.member_id === st.leader) leaderUrl = u;
    }
    if (!leaderUrl) await sleep(100);
  }
  if (!leaderUrl) {
    await stop();
    return { skipped: "etcd cluster did not elect a leader" };
  }
  return { leaderUrl, procs, urls, stop };
}
