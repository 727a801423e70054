// One HTTP/1.1 keep-alive connection, request after request on the same
// socket: what the mesh's per-connection caches (a connection's last token,
// core/acl/calls.ts callerMemo) are keyed on. fetch may open another
// connection whenever it likes, so the tests that check those caches speak
// HTTP/1.1 themselves. Answers are read by Content-Length (corral's
// refusals and the test backends send one).
import net from "node:net";

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: any;
}

export interface KeepAliveClient {
  get(path: string, headers: Record<string, string>): Promise<Answer>;
  /** How many TCP connections this client opened (1 while the server kept the first). */
  connections(): number;
  close(): void;
}

export function keepAliveClient(port: number, host = "127.0.0.1"): KeepAliveClient {
  let sock: net.Socket | null = null;
  let opened = 0;
  let buf = Buffer.alloc(0);
  let wake: (() => void) | null = null;
  const open = (): net.Socket => {
    if (sock && !sock.destroyed) return sock;
    opened++;
    buf = Buffer.alloc(0);
    const s = net.connect(port, host);
    s.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      wake?.();
    });
    s.on("close", () => wake?.());
    s.on("error", () => {});
    sock = s;
    return s;
  };
  /** One whole answer off the buffer, or null while it is incomplete. */
  const take = (): Answer | null => {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return null;
    const lines = buf.toString("latin1", 0, end).split("\r\n");
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const length = Number(headers["content-length"] ?? 0);
    if (buf.byteLength < end + 4 + length) return null;
    const text = buf.toString("utf8", end + 4, end + 4 + length);
    buf = buf.subarray(end + 4 + length);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: the text
    }
    return { status: Number(lines[0]!.split(" ")[1]), headers, body };
  };
  return {
    async get(path, headers) {
      const s = open();
      const fields = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      s.write(`GET ${path} HTTP/1.1\r\n${fields}\r\n`);
      const deadline = Date.now() + 15_000;
      for (;;) {
        const a = take();
        if (a) return a;
        if (s.destroyed) throw new Error("the connection closed before an answer");
        if (Date.now() > deadline) throw new Error(`no answer: ${JSON.stringify(buf.toString("latin1"))}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
    },
    connections: () => opened,
    close: () => sock?.destroy(),
  };
}
