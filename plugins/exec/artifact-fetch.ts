// Downloading one artifact as the agent (not as the task's user), into the
// node's content-addressed cache (artifact-cache.ts) or a temporary file:
//   - http:// and https:// only, on every redirect hop too (a redirect to
//     file:// or to a host outside artifact_allowed_hosts is refused);
//   - nothing of the agent's is sent: no cluster secret, no token, no
//     cookies; just the URL the job wrote (its own userinfo, if any);
//   - bounded: artifact_max_bytes (the download is cut off past it, whatever
//     Content-Length claimed) and artifact_timeout for the whole exchange;
//   - verified: the checksum is computed while the bytes arrive and compared
//     before the file is renamed into place, so nothing unverified is ever
//     unpacked or made visible to the task.
import { createHash } from "node:crypto";
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

/** The patterns of artifact_allowed_hosts ("" → [] = any host), or undefined when one is malformed. */
export function hostPatterns(text: string): string[] | undefined {
  const parts = text.split(",").map((p) => p.trim().toLowerCase()).filter((p) => p !== "");
  const ok = parts.every((p) => /^(\*\.)?[a-z0-9]([a-z0-9\-.]*[a-z0-9])?$|^\[[0-9a-f:.]+\]$/.test(p));
  return ok ? parts : undefined;
}

/** Whether `host` (a URL's hostname) matches the allow-list; an empty list allows any. */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true;
  const h = host.toLowerCase();
  return patterns.some((p) => (p.startsWith("*.") ? h.endsWith(p.slice(1)) : h === p));
}

export interface Checksum {
  algo: "sha256" | "sha512";
  hex: string;
}

export function parseChecksum(text: string): Checksum {
  const [algo, hex] = text.split(":") as [string, string];
  if (algo !== "sha256" && algo !== "sha512") throw new Error(`unsupported checksum type ${algo}`);
  return { algo, hex: hex.toLowerCase() };
}

export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
  allowedHosts: readonly string[];
}

const MAX_REDIRECTS = 5;

/** Why `url` may not be fetched, or undefined. */
function refusal(url: URL, limits: FetchLimits): string | undefined {
  if (url.protocol !== "http:" && url.protocol !== "https:") return `scheme ${url.protocol} not allowed (http and https only)`;
  if (!hostAllowed(url.hostname.replace(/^\[|\]$/g, ""), limits.allowedHosts) && !hostAllowed(url.hostname, limits.allowedHosts)) {
    return `host ${url.hostname} is not in [plugins.exec] artifact_allowed_hosts`;
  }
  return undefined;
}

/**
 * Fetches `source` into `path` (written through a temporary name next to it,
 * renamed only once complete and verified). Throws an Error whose message
 * says why: status, size, timeout, redirect refused, checksum mismatch.
 */
export async function download(source: string, path: string, checksum: Checksum | undefined, limits: FetchLimits): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), limits.timeoutMs);
  const tmp = `${path}.part-${process.pid}-${Math.random().toString(36).slice(2)}`;
  let fd: number | undefined;
  try {
    let url = new URL(source);
    let res: Response | undefined;
    for (let hop = 0; ; hop++) {
      const why = refusal(url, limits);
      if (why) throw new Error(hop === 0 ? why : `redirected to ${url.href}: ${why}`);
      // redirect "manual": each hop is checked against the scheme and the allow-list above.
      res = await fetch(url, { redirect: "manual", signal: abort.signal, headers: { "user-agent": "corral-artifact" } });
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
        await res.body?.cancel();
        url = new URL(location, url);
        continue;
      }
      break;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    }
    const declared = Number(res.headers.get("content-length") ?? NaN);
    if (declared > limits.maxBytes) {
      await res.body?.cancel();
      throw new Error(`${declared} bytes is more than artifact_max_bytes (${limits.maxBytes})`);
    }
    const hash = createHash(checksum?.algo ?? "sha256");
    fd = openSync(tmp, "wx", 0o600);
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > limits.maxBytes) {
          abort.abort();
          throw new Error(`more than artifact_max_bytes (${limits.maxBytes}) bytes`);
        }
        hash.update(chunk);
        writeSync(fd, chunk);
      }
    }
    closeSync(fd);
    fd = undefined;
    if (checksum) {
      const got = hash.digest("hex");
      if (got !== checksum.hex) throw new Error(`checksum mismatch: expected ${checksum.algo}:${checksum.hex}, got ${checksum.algo}:${got}`);
    }
    renameSync(tmp, path);
  } catch (err) {
    if (abort.signal.aborted && !(err instanceof Error && err.message.includes("artifact_max_bytes"))) {
      throw new Error(`timed out after ${limits.timeoutMs} ms`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
  }
}
