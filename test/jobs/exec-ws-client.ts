// A test client of the interactive exec WebSocket (plugins/exec/exec-ws.ts),
// as a user's program would be: Bun's WebSocket for sessions, and a raw
// node:http handshake to see the status a refused upgrade gets.
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";

export interface ExecWsOptions {
  task?: string;
  command: string[];
  tty?: boolean;
  token?: string;
  headers?: Record<string, string>;
  /** Nomad's browser handshake: ?ws_handshake=true and this token in the first frame (none in a header). */
  handshakeToken?: string;
}

export function execWsPath(allocId: string, o: ExecWsOptions): string {
  const q = new URLSearchParams({ command: JSON.stringify(o.command), tty: String(o.tty ?? false) });
  if (o.task) q.set("task", o.task);
  if (o.handshakeToken !== undefined) q.set("ws_handshake", "true");
  return `/v1/client/allocation/${allocId}/exec?${q}`;
}

export interface Session {
  ws: WebSocket;
  /** stdout (and, with a tty, everything) so far. */
  stdout(): string;
  stderr(): string;
  stdin(text: string): void;
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  /** Resolves with the exit code (undefined when the socket closed without one) and the close code. */
  ended: Promise<{ exit?: number; error?: string; close: number; reason: string }>;
  /** Resolves once stdout holds `text`. */
  waitFor(text: string, ms?: number): Promise<void>;
}

export function openSession(base: string, allocId: string, o: ExecWsOptions): Session {
  const url = base.replace(/^http/, "ws") + execWsPath(allocId, o);
  const headers = { ...(o.token ? { "X-Consul-Token": o.token } : {}), ...o.headers };
  const ws = new WebSocket(url, { headers } as unknown as string[]);
  let out = "";
  let err = "";
  let exit: number | undefined;
  let error: string | undefined;
  const waiters: (() => void)[] = [];
  const opened = new Promise<void>((r) => ws.addEventListener("open", () => {
    if (o.handshakeToken !== undefined) ws.send(JSON.stringify({ version: 1, auth_token: o.handshakeToken }));
    r();
  }));
  ws.addEventListener("message", (e) => {
    const f = JSON.parse(String(e.data));
    if (f.stdout?.data) out += Buffer.from(f.stdout.data, "base64").toString();
    if (f.stderr?.data) err += Buffer.from(f.stderr.data, "base64").toString();
    if (f.exited) {
      exit = f.result?.exit_code;
      error = f.error;
    }
    for (const w of waiters.splice(0)) w();
  });
  const ended = new Promise<{ exit?: number; error?: string; close: number; reason: string }>((r) =>
    ws.addEventListener("close", (e) => r({ exit, error, close: e.code, reason: e.reason })));
  const sendFrame = (f: unknown) => void opened.then(() => ws.send(JSON.stringify(f)));
  return {
    ws,
    stdout: () => out,
    stderr: () => err,
    stdin: (text) => sendFrame({ stdin: { data: Buffer.from(text).toString("base64") } }),
    closeStdin: () => sendFrame({ stdin: { close: true } }),
    resize: (rows, cols) => sendFrame({ tty_size: { height: rows, width: cols } }),
    ended,
    async waitFor(text, ms = 20_000) {
      const until = Date.now() + ms;
      while (!out.includes(text)) {
        if (Date.now() > until) throw new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(out)}`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), ended, new Promise((r) => setTimeout(r, 200))]);
      }
    },
  };
}

/** A raw WebSocket handshake: the status and body of the answer (101 = upgraded, then closed). */
export function handshake(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname, port: Number(u.port), path, method: "GET",
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": randomBytes(16).toString("base64"), ...headers },
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: "" });
    });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A client that opens a session and then never reads (its socket paused): what a stalled or hostile client does. */
export function stalledSession(base: string, path: string, headers: Record<string, string> = {}): Promise<Socket> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    let buf = "";
    const lines = [
      `GET ${path} HTTP/1.1`, `Host: ${u.host}`, "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", "",
    ];
    sock.on("connect", () => sock.write(lines.join("\r\n")));
    const onData = (d: Buffer) => {
      buf += d.toString("latin1");
      if (!buf.includes("\r\n\r\n")) return;
      sock.off("data", onData);
      if (!buf.startsWith("HTTP/1.1 101")) return reject(new Error(`not upgraded: ${buf.slice(0, 200)}`));
      sock.pause(); // read nothing more: the kernel's buffers fill, then the node's queue
      resolve(sock);
    };
    sock.on("data", onData);
    sock.on("error", reject);
  });
}
