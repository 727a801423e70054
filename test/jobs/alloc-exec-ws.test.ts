// Interactive `alloc exec` over a WebSocket (plugins/exec/exec-ws.ts), on a
// real node with ACLs on, against a real exec task: a shell driven over
// stdin frames, its exit code; a real terminal with tty=true (a /dev/pts
// path, `stty size` following tty_size frames); and, as an attacker: no
// token or a token without alloc_exec gets no process at all, a page on
// another site gets no session, a raw task needs operator:write, frames and
// sessions are bounded, and the audit log has each session.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { BUN, ENTRY, eventually, killAll, sleep } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";
import { execWsPath, handshake, openSession, stalledSession } from "./exec-ws-client.ts";

let n: AclNode;
let allocId: string;

/** A one-shot command through the POST route (to look at the task's folder). */
async function look(cmd: string): Promise<string> {
  const res = await fetch(`${n.url}/v1/client/allocation/${allocId}/exec`, {
    method: "POST", headers: { "content-type": "application/json", "X-Consul-Token": n.management }, body: JSON.stringify({ Command: ["sh", "-c", cmd] }),
  });
  const frames = (await res.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return frames.filter((f) => f.stdout).map((f) => Buffer.from(f.stdout.data, "base64").toString()).join("");
}

beforeAll(async () => {
  n = await startAclNode(`[plugins.exec]\nallow_raw = true\nexec_max_sessions = 3\nexec_max_frame_bytes = "4KiB"\n`);
  const job = {
    id: "wsjob",
    groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/sh", args: ["-c", "echo from-task > note; trap 'exit 0' TERM; while :; do /bin/sleep 0.2; done"], resources: { cpu: 50, memory: 64 } }] }],
  };
  const r = await call(n.url, "POST", "/v1/jobs", n.management, job);
  if (r.status !== 200) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
  const a = await eventually(async () => ((await call(n.url, "GET", "/v1/job/wsjob/allocations", n.management)).body as any[]).find((y) => y.clientStatus === "running"), 30_000);
  allocId = a.id;
  await eventually(async () => (await look("cat note")) === "from-task\n", 15_000);
}, 60_000);

afterAll(async () => {
  await call(n.url, "DELETE", "/v1/job/wsjob", n.management).catch(() => {});
  await sleep(300);
  await killAll();
});

describe("alloc exec over a WebSocket", () => {
  test("an interactive sh: commands typed over stdin frames run in the task's folder; the exit code comes last", async () => {
    const s = openSession(n.url, allocId, { command: ["sh"], token: n.management });
    s.stdin("cat note; echo hi\n");
    await s.waitFor("hi\n");
    expect(s.stdout()).toBe("from-task\nhi\n");
    s.stdin("echo oops >&2; exit 3\n");
    const end = await s.ended;
    expect([end.exit, end.close]).toEqual([3, 1000]);
    expect(s.stderr()).toBe("oops\n");
  }, 30_000);

  test("stdin close ends a command reading to its end", async () => {
    const s = openSession(n.url, allocId, { command: ["wc", "-c"], token: n.management });
    s.stdin("12345");
    s.closeStdin();
    const end = await s.ended;
    expect([s.stdout().trim(), end.exit]).toEqual(["5", 0]);
  }, 30_000);

  test("tty=true: a real terminal (tty names /dev/pts), stty size follows tty_size frames", async () => {
    const s = openSession(n.url, allocId, { command: ["sh"], tty: true, token: n.management });
    s.resize(33, 101);
    await sleep(300);
    // The terminal echoes what is typed: the marker is computed, so only the command's output holds it.
    s.stdin("tty; stty size; echo done-$((40+2))\n");
    await s.waitFor("done-42\r\n");
    expect(s.stdout()).toMatch(/\/dev\/pts\/\d+\r\n/);
    expect(s.stdout()).toContain("33 101\r\n");
    s.resize(40, 120);
    await sleep(300);
    s.stdin("stty size; exit 4\n");
    const end = await s.ended;
    expect(s.stdout()).toContain("40 120\r\n");
    expect(end.exit).toBe(4);
  }, 30_000);

  test("tty=true: ^C over stdin interrupts the foreground command, as on a terminal", async () => {
    const s = openSession(n.url, allocId, { command: ["sh"], tty: true, token: n.management });
    s.stdin("sleep 30; echo after-$((1+1))\n");
    await sleep(800);
    s.stdin("\x03");
    s.stdin("echo int-$((2+3)); exit\n");
    await s.waitFor("int-5\r\n");
    expect(s.stdout()).not.toContain("after-2");
    expect((await s.ended).exit).toBe(0);
  }, 30_000);

  test("a client that goes away ends the command", async () => {
    const s = openSession(n.url, allocId, { command: ["sh", "-c", "echo started; sleep 3; echo late > after-close"], token: n.management });
    await s.waitFor("started\n");
    s.ws.close();
    await sleep(5_000);
    expect(await look("test -e after-close && echo there || echo gone")).toBe("gone\n");
  }, 30_000);

  test("no token, or a token without alloc_exec: 403 before any process starts", async () => {
    const writer = await tokenWith(n, "ws-jobwrite", `job "wsjob" { policy = "write" }\nalloc_exec "other" { policy = "write" }`);
    const path = execWsPath(allocId, { command: ["sh", "-c", "touch refused-ran"] });
    const callers: Record<string, string>[] = [{}, { "X-Consul-Token": writer.secret }, { "X-Consul-Token": "00000000-0000-4000-8000-000000000000" }];
    for (const headers of callers) {
      const r = await handshake(n.url, path, headers);
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body).code).toMatch(/PERMISSION_DENIED|ACL_NOT_FOUND/);
    }
    await sleep(500);
    expect(await look("test -e refused-ran && echo there || echo none")).toBe("none\n");
    // alloc_exec write on the job is what it takes; the token may come as Authorization: Bearer.
    const execer = await tokenWith(n, "ws-exec", `alloc_exec "wsjob" { policy = "write" }`);
    const s = openSession(n.url, allocId, { command: ["echo", "allowed"], headers: { Authorization: `Bearer ${execer.secret}` } });
    expect((await s.ended).exit).toBe(0);
    expect(s.stdout()).toBe("allowed\n");
    // One audit record per session, refused or not, naming its accessor.
    const records = await eventually(async () => {
      const r = await call(n.url, "GET", `/v1/audit?path=/v1/client/allocation/${allocId}/exec`, n.management);
      const gets = (r.body as any[]).filter((x) => x.method === "GET");
      return gets.some((x) => x.accessor === execer.accessor && x.status === 101) && gets.some((x) => x.accessor === writer.accessor && x.status === 403) ? gets : undefined;
    }, 10_000);
    expect(records.filter((x: any) => x.accessor === execer.accessor).length).toBe(1);
  }, 30_000);

  test("Nomad's browser handshake (?ws_handshake=true): the token in the first frame, checked before anything starts", async () => {
    const execer = await tokenWith(n, "ws-hs-exec", `alloc_exec "wsjob" { policy = "write" }`);
    const s = openSession(n.url, allocId, { command: ["sh"], handshakeToken: execer.secret });
    s.stdin("cat note; exit 6\n"); // sent right after the handshake frame: held until the token is accepted
    const end = await s.ended;
    expect([s.stdout(), end.exit]).toEqual(["from-task\n", 6]);
    const writer = await tokenWith(n, "ws-hs-jobwrite", `job "wsjob" { policy = "write" }`);
    for (const token of [writer.secret, "00000000-0000-4000-8000-000000000000", ""]) {
      const r = openSession(n.url, allocId, { command: ["sh", "-c", "touch handshake-ran"], handshakeToken: token });
      const e = await r.ended;
      expect([e.close, e.exit]).toEqual([1008, undefined]);
      expect(e.reason).toMatch(/Permission denied|ACL not found/);
    }
    // A first frame that is not the handshake: refused, nothing run.
    expect((await handshake(n.url, execWsPath(allocId, { command: ["true"] }))).status).toBe(403); // no token, no handshake asked: refused before the upgrade
    // Before its token is checked, a caller learns nothing: an unknown allocation is upgraded alike (then refused).
    expect((await handshake(n.url, execWsPath("00000000-dead", { command: ["true"], handshakeToken: "" }))).status).toBe(101);
    const unknown = openSession(n.url, "00000000-dead", { command: ["true"], handshakeToken: "00000000-0000-4000-8000-000000000000" });
    expect((await unknown.ended).reason).toBe("ACL not found");
    const wrong = new WebSocket(n.url.replace(/^http/, "ws") + execWsPath(allocId, { command: ["sh", "-c", "touch handshake-ran"], handshakeToken: "" }));
    wrong.onopen = () => wrong.send(JSON.stringify({ stdin: { data: "" } }));
    const closed = await new Promise<number>((r) => (wrong.onclose = (e) => r(e.code)));
    expect(closed).toBe(1008);
    await sleep(500);
    expect(await look("test -e handshake-ran && echo there || echo none")).toBe("none\n");
  }, 60_000);

  test("a page on another site cannot open a session, whatever the browser holds", async () => {
    const path = execWsPath(allocId, { command: ["sh", "-c", "touch cross-site-ran"] });
    const pages: Record<string, string>[] = [{ Origin: "http://evil.example" }, { "Sec-Fetch-Site": "cross-site" }];
    for (const headers of pages) {
      const r = await handshake(n.url, path, { ...headers, "X-Consul-Token": n.management });
      expect([r.status, JSON.parse(r.body).code]).toEqual([403, "CROSS_SITE_REQUEST"]);
    }
    await sleep(500);
    expect(await look("test -e cross-site-ran && echo there || echo none")).toBe("none\n");
    // The node's own origin (its dashboard) may.
    const s = openSession(n.url, allocId, { command: ["echo", "own"], token: n.management, headers: { Origin: n.url } });
    expect([(await s.ended).exit, s.stdout()]).toEqual([0, "own\n"]);
  }, 30_000);

  test("bad input: a clear 400 before the upgrade; not a handshake: 400", async () => {
    const base = `/v1/client/allocation/${allocId}/exec`;
    for (const q of ["", "?command=sh", "?command=%5B%5D", "?command=%5B%22%22%5D", "?command=%5B%22sh%22%5D&tty=yes", "?command=%5B%22sh%22%5D&extra=1", "?command=%5B%22sh%22%5D&task=nope"]) {
      const r = await handshake(n.url, base + q, { "X-Consul-Token": n.management });
      expect([q, r.status, JSON.parse(r.body).code]).toEqual([q, 400, "INVALID_INPUT"]);
    }
    const plain = await fetch(`${n.url}${execWsPath(allocId, { command: ["sh"] })}`, { headers: { "X-Consul-Token": n.management } });
    expect([plain.status, ((await plain.json()) as { code: string }).code]).toEqual([400, "UPGRADE_REQUIRED"]);
    const unknown = await handshake(n.url, execWsPath("00000000-dead", { command: ["sh"] }), { "X-Consul-Token": n.management });
    expect(unknown.status).toBe(404);
  }, 30_000);

  test("a bad frame or one over exec_max_frame_bytes ends the session and its command", async () => {
    const s = openSession(n.url, allocId, { command: ["sh", "-c", "echo up; sleep 3; echo late > after-big"], token: n.management });
    await s.waitFor("up\n");
    s.ws.send(JSON.stringify({ stdin: { data: Buffer.alloc(8192).toString("base64") } }));
    expect((await s.ended).close).toBe(1009);
    const bad = openSession(n.url, allocId, { command: ["cat"], token: n.management });
    bad.ws.addEventListener("open", () => bad.ws.send("{\"stdin\":{\"data\":1}}"));
    expect((await bad.ended).close).toBe(1008);
    await sleep(4_000);
    expect(await look("test -e after-big && echo there || echo gone")).toBe("gone\n");
  }, 30_000);

  test("a client that does not read its output holds the command (backpressure), not the node's memory", async () => {
    // 200 MB of output (270 MB of frames): without backpressure the node queues it all and the command finishes at once.
    const path = execWsPath(allocId, { command: ["sh", "-c", "head -c 200000000 /dev/zero; touch stalled-finished"], token: n.management });
    const sock = await stalledSession(n.url, path, { "X-Consul-Token": n.management });
    await sleep(6_000);
    expect(await look("test -e stalled-finished && echo finished || echo held")).toBe("held\n");
    sock.destroy();
    await sleep(2_000);
    expect(await look("test -e stalled-finished && echo finished || echo gone")).toBe("gone\n"); // killed with the session
  }, 60_000);

  test("at most exec_max_sessions open at once: one more gets 429", async () => {
    const held = [0, 1, 2].map(() => openSession(n.url, allocId, { command: ["sh", "-c", "echo held; sleep 20"], token: n.management }));
    for (const s of held) await s.waitFor("held\n");
    const r = await handshake(n.url, execWsPath(allocId, { command: ["true"] }), { "X-Consul-Token": n.management });
    expect([r.status, JSON.parse(r.body).code]).toEqual([429, "TOO_MANY_SESSIONS"]);
    for (const s of held) s.ws.close();
    await Promise.all(held.map((s) => s.ended));
    const again = await eventually(async () => {
      const s = openSession(n.url, allocId, { command: ["true"], token: n.management });
      const e = await s.ended;
      return e.exit === 0 ? e : undefined;
    }, 10_000);
    expect(again.exit).toBe(0);
  }, 60_000);

  test("a raw task (the agent's privileges) also needs operator:write", async () => {
    const job = { id: "wsraw", groups: [{ name: "g", tasks: [{ name: "r", driver: "raw_exec", command: "/bin/sh", args: ["-c", "trap 'exit 0' TERM; while :; do /bin/sleep 0.2; done"], resources: { cpu: 50, memory: 64 } }] }] };
    expect((await call(n.url, "POST", "/v1/jobs", n.management, job)).status).toBe(200);
    const a = await eventually(async () => ((await call(n.url, "GET", "/v1/job/wsraw/allocations", n.management)).body as any[]).find((y) => y.clientStatus === "running"), 30_000);
    const only = await tokenWith(n, "ws-raw-only", `alloc_exec "wsraw" { policy = "write" }`);
    const refused = await handshake(n.url, execWsPath(a.id, { command: ["id", "-u"] }), { "X-Consul-Token": only.secret });
    expect([refused.status, JSON.parse(refused.body).code]).toEqual([403, "PERMISSION_DENIED"]);
    expect(JSON.parse(refused.body).error).toContain("operator:write");
    const op = await tokenWith(n, "ws-raw-op", `alloc_exec "wsraw" { policy = "write" }\noperator = "write"`);
    const s = openSession(n.url, a.id, { command: ["id", "-u"], token: op.secret });
    expect([(await s.ended).exit, s.stdout()]).toEqual([0, "0\n"]);
    // The same with the token in the handshake frame.
    const late = openSession(n.url, a.id, { command: ["id", "-u"], handshakeToken: only.secret });
    const lateEnd = await late.ended;
    expect([lateEnd.close, lateEnd.exit]).toEqual([1008, undefined]);
    expect(lateEnd.reason).toContain("runs in raw mode"); // the close reason (at most 123 bytes) is the 403's message, cut
    const lateOk = openSession(n.url, a.id, { command: ["id", "-u"], handshakeToken: op.secret });
    expect([(await lateOk.ended).exit, lateOk.stdout()]).toEqual([0, "0\n"]);
    await call(n.url, "DELETE", "/v1/job/wsraw", n.management);
  }, 60_000);
});

describe("corral alloc exec (the CLI) over the WebSocket", () => {
  test("on a real terminal: raw mode, the window size sent and followed on SIGWINCH, the remote exit code, the terminal restored", async () => {
    let out = "";
    const env = { ...process.env, CORRAL_ADDR: n.url, CORRAL_TOKEN: n.management };
    const cli = Bun.spawn([BUN, ENTRY, "alloc", "exec", allocId.slice(0, 8), "--", "sh"], {
      env, terminal: { cols: 91, rows: 27, data: (_t, d) => (out += new TextDecoder().decode(d)) },
    });
    const term = cli.terminal!;
    const waitOut = async (text: string) => {
      const until = Date.now() + 30_000;
      while (!out.includes(text)) {
        if (Date.now() > until) throw new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(out)}`);
        await sleep(100);
      }
    };
    // The remote shell's prompt: the session is open.
    await eventually(async () => out.includes("$ "), 30_000);
    // Linux termios c_lflag: ICANON 0o2, ECHO 0o10. The CLI's terminal is raw while the session runs.
    const ICANON = 0o2;
    const ECHO = 0o10;
    expect(term.localFlags & (ICANON | ECHO)).toBe(0);
    term.write("tty; stty size; echo one-$((1+1))\r");
    await waitOut("one-2");
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(out).toContain("27 91");
    term.resize(120, 40); // the kernel sends the CLI SIGWINCH; it sends a tty_size frame
    await sleep(800);
    term.write("stty size; echo two-$((1+2))\r");
    await waitOut("two-3");
    expect(out).toContain("40 120");
    // Raw mode: ^C goes to the remote terminal (interrupting its foreground command), not to the CLI.
    term.write("sleep 30\r");
    await sleep(800);
    term.write("\x03");
    term.write("echo alive-$((2+2)); exit 6\r");
    expect(await cli.exited).toBe(6);
    expect(out).toContain("alive-4");
    expect(term.localFlags & (ICANON | ECHO)).toBe(ICANON | ECHO); // restored
    term.close();
  }, 90_000);

  test("without a terminal (pipes): stdin to the end, stdout and stderr apart; --stdin=false sends none", () => {
    const env = { ...process.env, CORRAL_ADDR: n.url, CORRAL_TOKEN: n.management };
    const r = spawnSync(BUN, [ENTRY, "alloc", "exec", allocId, "--", "sh", "-c", "[ -t 0 ] && echo tty >&2; cat; echo err >&2; exit 5"], { env, input: "line one\nline two\n", encoding: "utf8", timeout: 60_000 });
    expect([r.stdout, r.stderr, r.status]).toEqual(["line one\nline two\n", "err\n", 5]);
    const none = spawnSync(BUN, [ENTRY, "alloc", "exec", "--stdin=false", allocId, "--", "cat"], { env, input: "not sent\n", encoding: "utf8", timeout: 60_000 });
    expect([none.stdout, none.status]).toEqual(["", 0]);
  }, 60_000);

  test("a refused session: the node's reason, a non-zero exit, nothing run", async () => {
    const reader = await tokenWith(n, "ws-cli-jobonly", `job "wsjob" { policy = "write" }`);
    const env = { ...process.env, CORRAL_ADDR: n.url, CORRAL_TOKEN: reader.secret };
    const r = spawnSync(BUN, [ENTRY, "alloc", "exec", allocId, "--", "sh", "-c", "touch cli-refused-ran"], { env, input: "", encoding: "utf8", timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Permission denied");
    expect(await look("test -e cli-refused-ran && echo there || echo none")).toBe("none\n");
  }, 60_000);
});
