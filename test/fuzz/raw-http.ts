// A minimal HTTP/1.1 client over a plain socket, for the fuzzer: fetch would
// normalize "../" and "%2e%2e", refuse invalid bytes in the path and cap
// header sizes; this one sends exactly the bytes it is given. One request
// per connection (Connection: close); the answer is read until the server
// closes, or until `maxBodyBytes`/`timeoutMs` (streams, held blocking queries).
import { connect } from "node:net";

export interface RawRequest {
  method: string;
  /** The request target as sent: path and query, any bytes. */
  target: Uint8Array | string;
  headers: [string, string | Uint8Array][];
  body?: Uint8Array;
}

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
  /** The answer did not end in time (a stream, a held query). */
  timedOut: boolean;
}

const enc = new TextEncoder();
const bytes = (v: string | Uint8Array) => (typeof v === "string" ? enc.encode(v) : v);

/** `host` is sent as the Host header unless the request carries its own (the suite tries foreign Hosts). */
export function encodeRequest(r: RawRequest, host: string): Buffer {
  const ownHost = r.headers.some(([k]) => k.toLowerCase() === "host");
  const parts: Uint8Array[] = [bytes(`${r.method} `), bytes(r.target), bytes(" HTTP/1.1\r\n"), bytes(`${ownHost ? "" : `Host: ${host}\r\n`}Connection: close\r\n`)];
  for (const [k, v] of r.headers) parts.push(bytes(`${k}: `), bytes(v), bytes("\r\n"));
  if (r.body) parts.push(bytes(`Content-Length: ${r.body.length}\r\n`));
  parts.push(bytes("\r\n"));
  if (r.body) parts.push(r.body);
  return Buffer.concat(parts);
}

function parse(buf: Buffer, timedOut: boolean): RawResponse {
  const end = buf.indexOf("\r\n\r\n");
  if (end === -1) return { status: 0, headers: new Map(), body: Buffer.alloc(0), timedOut };
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const at = l.indexOf(":");
    if (at > 0) headers.set(l.slice(0, at).trim().toLowerCase(), l.slice(at + 1).trim());
  }
  let body = buf.subarray(end + 4);
  if (headers.get("transfer-encoding")?.includes("chunked")) body = dechunk(body);
  return { status, headers, body, timedOut };
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    const eol = b.indexOf("\r\n", at);
    if (eol === -1) break;
    const size = parseInt(b.subarray(at, eol).toString("latin1"), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(b.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

export function rawRequest(port: number, r: RawRequest, opts: { timeoutMs: number; maxBodyBytes?: number }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const sock = connect({ host: "127.0.0.1", port });
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(parse(Buffer.concat(chunks), timedOut));
    };
    const timer = setTimeout(() => finish(true), opts.timeoutMs);
    // write, not end: a half-closed socket reads as a client that hung up, and the server may drop the answer.
    sock.on("connect", () => sock.write(encodeRequest(r, `127.0.0.1:${port}`)));
    sock.on("data", (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (size > (opts.maxBodyBytes ?? 4 * 1024 * 1024)) finish(true);
    });
    sock.on("end", () => finish(false));
    sock.on("close", () => finish(false));
    sock.on("error", (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // The server may reset after answering (an over-long body it will not read).
      if (chunks.length) resolve(parse(Buffer.concat(chunks), false));
      else reject(err);
    });
  });
}
