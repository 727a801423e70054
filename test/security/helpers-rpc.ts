// Helpers of test/security/rpc.test.ts: node signatures made here from the
// documented wire format (not through core's signRequest, so the test pins
// the format an outside implementation would send), a raw chunked uploader
// that stops as soon as the node answers, and the node's resident memory.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { readFileSync } from "node:fs";

export const SIGNATURE_HEADER = "X-Corral-Signature";

export interface SignOptions {
  secret: string;
  node?: string;
  method?: string;
  /** Path and query, as sent. */
  path: string;
  body?: string;
  /** The receiver: the host:port the request is sent to. */
  to: string;
  /** Signature time, ms (default now). */
  at?: number;
  nonce?: string;
  /** The signed body length (default the body's). */
  length?: number;
}

/**
 * X-Corral-Signature: t=<ms>,n=<32 hex>,node=<id>,to=<host:port>,l=<bytes>,b=<sha256(body)>,sig=<hex>,
 * sig = HMAC-SHA256(secret, "corral-rpc-v2\nt\nnonce\nnode\nto\nMETHOD\npath?query\nl\nsha256(body)").
 */
export function sign(o: SignOptions): string {
  const t = o.at ?? Date.now();
  const nonce = o.nonce ?? randomBytes(16).toString("hex");
  const node = o.node ?? "test-node";
  const l = o.length ?? Buffer.byteLength(o.body ?? "");
  const b = createHash("sha256").update(o.body ?? "").digest("hex");
  const sig = createHmac("sha256", o.secret).update(`corral-rpc-v2\n${t}\n${nonce}\n${node}\n${o.to}\n${(o.method ?? "POST").toUpperCase()}\n${o.path}\n${l}\n${b}`).digest("hex");
  return `t=${t},n=${nonce},node=${node},to=${o.to},l=${l},b=${b},sig=${sig}`;
}

/** Replaces one field of a signature header (node=, t=, ...), keeping the MAC. */
export function withField(header: string, field: string, value: string): string {
  return header.replace(new RegExp(`(^|,)${field}=[^,]*`), `$1${field}=${value}`);
}

export async function post(url: string, path: string, body: string, header?: string, method = "POST") {
  const r = await fetch(url + path, {
    method, body: method === "GET" ? undefined : body,
    headers: { "content-type": "application/json", ...(header ? { [SIGNATURE_HEADER]: header } : {}) },
  });
  const text = await r.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, body: json };
}

/** The node's resident set, bytes (/proc/PID/status VmRSS). */
export function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
}

export interface UploadResult {
  /** Status line of the node's answer, or undefined if it closed without one. */
  status?: number;
  head: string;
  /** Body bytes written before the answer came (or the socket closed). */
  sentBeforeAnswer: number;
  /** Highest RSS of the node seen while uploading. */
  peakRss: number;
}

/**
 * Sends `method path` (POST by default) with Transfer-Encoding: chunked (no Content-Length) and up
 * to `totalBytes` of body in 64 KiB chunks, sampling the node's RSS, and stops
 * as soon as the node answers or closes the connection.
 */
export function chunkedUpload(port: number, path: string, headers: Record<string, string>, totalBytes: number, pid: number, method = "POST"): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const frame = Buffer.concat([Buffer.from(chunk.length.toString(16) + "\r\n"), chunk, Buffer.from("\r\n")]);
    const sock: Socket = connect(port, "127.0.0.1");
    let sent = 0;
    let head = "";
    let answered = false;
    let peakRss = rssBytes(pid);
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, rssBytes(pid));
      } catch {
        // the node is gone: the test sees it
      }
    }, 20);
    const finish = () => {
      if (answered) return;
      answered = true;
      clearInterval(sampler);
      try {
        peakRss = Math.max(peakRss, rssBytes(pid));
      } catch {
        // gone
      }
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : undefined, head, sentBeforeAnswer: sent, peakRss });
    };
    sock.on("data", (d) => {
      head += d.toString("latin1");
      if (head.includes("\r\n\r\n")) finish();
    });
    sock.on("close", finish);
    sock.on("error", (err) => (sent > 0 ? finish() : reject(err)));
    sock.on("connect", async () => {
      const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Transfer-Encoding: chunked", "Content-Type: application/json"];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      sock.write(lines.join("\r\n") + "\r\n\r\n");
      while (!answered && sent < totalBytes) {
        sent += chunk.length;
        if (!sock.write(frame)) {
          // Back-pressure: the node does not read. Wait for it to drain, answer or close.
          await new Promise<void>((r) => {
            const done = () => {
              clearInterval(poll);
              sock.off("drain", done);
              r();
            };
            const poll = setInterval(() => answered && done(), 20);
            sock.once("drain", done);
          });
        }
      }
      if (!answered) sock.write("0\r\n\r\n");
    });
  });
}
