// Raw HTTP/1.1 requests for the browser and invoke security tests: exactly
// the bytes a browser (or an attacker) sends, Host, Origin and Sec-Fetch-*
// included, with nothing normalized by a client library.
import { connect } from "node:net";

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `head` (request line and fields, no final CRLF) and `body` (latin1), reads until the server closes. */
export function rawRequest(port: number, head: string, body: string | Buffer = "", timeoutMs = 20_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(head.slice(0, 80))}`));
    }, timeoutMs);
    sock.on("connect", () => {
      sock.write(Buffer.from(`${head}\r\nConnection: close\r\n\r\n`, "latin1"));
      if (body.length) sock.write(typeof body === "string" ? Buffer.from(body, "latin1") : body);
    });
    sock.on("data", (d) => chunks.push(d));
    sock.on("error", (err) => {
      clearTimeout(timer);
      // A server that answers and closes before reading our body resets the connection: the answer counts.
      if (chunks.length) resolve(parseAnswer(Buffer.concat(chunks).toString("latin1")));
      else reject(err);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(parseAnswer(Buffer.concat(chunks).toString("latin1")));
    });
  });
}

export function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  let body = end < 0 ? "" : text.slice(end + 4);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const c = l.indexOf(":");
    if (c > 0) headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
  }
  if (headers["transfer-encoding"] === "chunked") body = dechunk(body);
  return { status: Number(statusLine.split(" ")[1] ?? 0), headers, body };
}

function dechunk(s: string): string {
  let out = "";
  let i = 0;
  for (;;) {
    const eol = s.indexOf("\r\n", i);
    if (eol < 0) return out;
    const n = parseInt(s.slice(i, eol), 16);
    if (!(n > 0)) return out;
    out += s.slice(eol + 2, eol + 2 + n);
    i = eol + 2 + n + 2;
  }
}

/** A request head from a method, target and fields. */
export function head(method: string, target: string, fields: Record<string, string | number>): string {
  return [`${method} ${target} HTTP/1.1`, ...Object.entries(fields).map(([k, v]) => `${k}: ${v}`)].join("\r\n");
}

export function json<T = any>(a: RawAnswer): T {
  return JSON.parse(a.body) as T;
}
