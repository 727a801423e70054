// Interactive `alloc exec` in a cluster with ACLs on: a session opened on
// the leader or on an agent that does not run the allocation is relayed to
// the agent that does, over a WebSocket signed with the cluster secret; the
// relaying node checked the client's token, the running node trusts the
// signature. A client cannot pose as a relaying node: without the cluster
// secret its "forwarded" handshake is an ordinary one (403 without a token).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { eventually, freePort, getJson, killAll, sleep, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { ACL_CONFIG, call, tokenWith } from "../acl/helpers.ts";
import { reapTasks, SECRET } from "./cluster-helpers.ts";
import { execWsPath, handshake, openSession } from "./exec-ws-client.ts";
import { SIGNATURE_HEADER, signRequest } from "../../core/http/rpc-signature.ts";

let leader: CorralProcess;
let management: string;
const agents: { name: string; dataDir: string; proc: CorralProcess; nodeId: string }[] = [];
let alloc: any;

const PLUGINS = `[plugins]\nenabled = ["probe", "discovery", "exec", "invoke", "authz"]\nwatch = false`;

async function startAgent(name: string) {
  const port = await freePort();
  const dataDir = join(tempDir(), "agent-data");
  const config = [
    `[node]\nname = "${name}"`, `[cluster]\nsecret = "${SECRET}"`,
    `[agent]\nleaders = ["127.0.0.1:${leader.port}"]\nheartbeat = "300ms"`, PLUGINS,
    `[plugins.probe]\ncpu_total_mhz = 2000\nmemory_total_mb = 2048`, `[plugins.exec]\nkill_timeout = "1s"`, ACL_CONFIG,
  ].join("\n\n") + "\n";
  const proc = await startCorral({ role: "agent", port, dataDir, config });
  const node = await eventually(async () => ((await call(leader.url, "GET", "/v1/nodes", management)).body as any[]).find((x) => x.name === name && x.status === "ready"), 20_000);
  agents.push({ name, dataDir, proc, nodeId: node.id });
}

beforeAll(async () => {
  leader = await startCorral({
    role: "leader",
    config: [`[cluster]\nsecret = "${SECRET}"`, `[raft]\nsync = "normal"`, PLUGINS, ACL_CONFIG].join("\n\n") + "\n",
  });
  const boot = await eventually(async () => {
    const r = await getJson(leader.url + "/v1/acl/bootstrap", { method: "PUT" });
    return r.status === 200 ? r : undefined;
  }, 15_000);
  management = boot.body.SecretID;
  await startAgent("agent-ws-a");
  await startAgent("agent-ws-b");
  const job = { id: "wsc", groups: [{ name: "g", count: 1, tasks: [{ name: "t", command: "/bin/sh", args: ["-c", "echo $CORRAL_ALLOC_ID > me; while :; do /bin/sleep 0.2; done"], resources: { cpu: 50, memory: 64 } }] }] };
  const r = await call(leader.url, "POST", "/v1/jobs", management, job);
  if (r.status !== 200) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
  alloc = await eventually(async () => ((await call(leader.url, "GET", "/v1/job/wsc/allocations", management)).body as any[]).find((y) => y.clientStatus === "running"), 30_000);
}, 120_000);

afterAll(async () => {
  await call(leader.url, "DELETE", "/v1/job/wsc", management).catch(() => {});
  await sleep(500);
  await killAll();
  for (const a of agents) reapTasks(a.dataDir);
});

describe("alloc exec sessions across nodes", () => {
  test("through the leader and through the agent that does not run it: an interactive sh, a terminal, the exit code", async () => {
    const execer = await tokenWith({ proc: leader, url: leader.url, management }, "wsc-exec", `alloc_exec "wsc" { policy = "write" }`);
    const other = agents.find((a) => a.nodeId !== alloc.nodeId)!;
    for (const base of [leader.url, other.proc.url]) {
      const s = await eventually(async () => {
        const t = openSession(base, alloc.id, { command: ["sh"], token: execer.secret });
        t.stdin("cat me; exit 5\n");
        const end = await t.ended;
        return end.exit === 5 ? t : undefined; // the agent may not know the token yet (resolved by the leader, cached)
      }, 15_000);
      expect(s.stdout()).toBe(`${alloc.id}\n`);
      const tty = openSession(base, alloc.id, { command: ["sh"], tty: true, token: execer.secret });
      tty.resize(31, 97);
      await sleep(300);
      tty.stdin("stty size; exit 2\n");
      const end = await tty.ended;
      expect(tty.stdout()).toContain("31 97\r\n");
      expect(end.exit).toBe(2);
      // A browser's session: the token in the first frame, checked by this node, then relayed.
      const hs = openSession(base, alloc.id, { command: ["cat", "me"], handshakeToken: execer.secret });
      expect([(await hs.ended).exit, hs.stdout()]).toEqual([0, `${alloc.id}\n`]);
    }
  }, 90_000);

  test("the relaying node refuses a client without alloc_exec; nothing reaches the running node", async () => {
    const other = agents.find((a) => a.nodeId !== alloc.nodeId)!;
    const path = execWsPath(alloc.id, { command: ["sh", "-c", "touch relayed-ran"] });
    for (const base of [leader.url, other.proc.url]) expect((await handshake(base, path)).status).toBe(403);
  }, 30_000);

  test("a client cannot pose as a relaying node: a forged or missing signature is no authorization", async () => {
    const running = agents.find((a) => a.nodeId === alloc.nodeId)!;
    const path = execWsPath(alloc.id, { command: ["sh", "-c", "touch forged-ran"] });
    const to = new URL(running.proc.url).host;
    const forged = signRequest({ secret: "not-the-cluster-secret-000", node: "rogue" }, "GET", path, "", { to });
    const attempts: Record<string, string>[] = [{ "X-Corral-Forwarded": "1" }, { "X-Corral-Forwarded": "1", [SIGNATURE_HEADER]: forged }];
    for (const headers of attempts) {
      const r = await handshake(running.proc.url, path, headers);
      expect(r.status).toBe(403);
    }
    // Nor does a genuine signature replayed: its nonce is spent. (Its own
    // command: the first, genuine handshake is authorized and may run it.)
    const genuine = execWsPath(alloc.id, { command: ["true"] });
    const real = signRequest({ secret: SECRET, node: "relay" }, "GET", genuine, "", { to });
    const first = await handshake(running.proc.url, genuine, { [SIGNATURE_HEADER]: real });
    const again = await handshake(running.proc.url, genuine, { [SIGNATURE_HEADER]: real });
    expect([first.status, again.status]).toEqual([101, 403]);
    await sleep(1_000);
    const look = openSession(running.proc.url, alloc.id, { command: ["sh", "-c", "test -e forged-ran -o -e relayed-ran && echo there || echo none"], token: management });
    await look.ended;
    expect(look.stdout()).toBe("none\n");
  }, 30_000);
});
