// A leader whose event loop is held up (overload, a long garbage-collection
// pause, a stalled VM) sends its heartbeats late, and past the election timeout
// its followers elect another leader. It says so in its log, as etcd warns
// "leader failed to send out heartbeat on time", so an operator who sees
// leadership move knows where to look. The process is stopped with SIGSTOP:
// its clock runs on, its timers do not.
import { afterAll, expect, test } from "bun:test";
import { startCorral, eventually, killAll, sleep, type CorralProcess } from "../helpers/proc.ts";
import { CLUSTER_SECRET } from "../helpers/cluster.ts";

let p: CorralProcess;
afterAll(() => killAll());

const lateWarnings = () => p.output().split("\n").filter((l) => l.includes("heartbeats went out late")).map((l) => JSON.parse(l) as { worstMs: number; late: number; intervalMs: number });

test("a leader held up for several heartbeat intervals warns, with how late", async () => {
  p = await startCorral({ role: "leader", config: `[cluster]\nsecret = "${CLUSTER_SECRET}"\n[leader]\nheartbeat_interval = "100ms"\n` });
  await sleep(300);
  process.kill(p.child.pid!, "SIGSTOP");
  await sleep(1200);
  process.kill(p.child.pid!, "SIGCONT");
  await eventually(() => lateWarnings().length > 0, 5000);
  const [w] = lateWarnings();
  expect(w!.intervalMs).toBe(100);
  expect(w!.late).toBeGreaterThanOrEqual(1);
  expect(w!.worstMs).toBeGreaterThanOrEqual(1000);
  expect(w!.worstMs).toBeLessThan(10_000);
}, 30_000);
