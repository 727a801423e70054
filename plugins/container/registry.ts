// A client of the OCI distribution API (v2), the pull half: manifests by
// tag or digest, image indexes, and blobs by digest into the BlobStore.
//   - https always, plain http only for registries listed in
//     `[plugins.container] insecure_registries`;
//   - 401 answers are met once per request: Bearer (the token service the
//     challenge names, asked for pull on this repository only, with the
//     registry's `auth` credentials if configured) or Basic (the configured
//     credentials, else refused);
//   - credentials go only to the registry's own origin and the realm it
//     names: redirects (blob storage) are followed by hand and lose the
//     Authorization header when they leave the origin;
//   - every byte is verified: a manifest fetched by digest must hash to it
//     (and one fetched by tag to the Docker-Content-Digest the registry
//     claims), a blob must have the descriptor's size and digest before it
//     is renamed into the store. A mismatch is an Error, nothing is kept;
//   - bounded: manifests and configs to 4 MiB, blobs to their descriptor's
//     size, the whole exchange by `timeoutMs`.
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { BlobStore } from "./blob-store.ts";
import { MANIFEST_ACCEPT, parseManifest, pickPlatform, parseImageConfig, type ImageRunConfig, type Layer } from "./manifest.ts";
import { manifestReference, type ImageRef } from "../../core/sdk/index.ts";
import { parseChallenges, tokenUrl } from "./www-authenticate.ts";

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** Credentials by registry host[:port] (`[plugins.container] auth`). */
  auth: Readonly<Record<string, Credentials>>;
  /** Registries reached over plain http (`insecure_registries`); every other one over https. */
  insecure: readonly string[];
  timeoutMs: number;
}

/** What a pull hands on: the image's config and its layers, all in the store. */
export interface PulledImage {
  /** The digest of the image manifest (the platform's, under an index). */
  manifestDigest: string;
  configDigest: string;
  config: ImageRunConfig;
  layers: Layer[];
}

export type PullProgress = (message: string) => void;

const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export class RegistryClient {
  /** Bearer tokens by registry + scope, reused until the registry refuses one. */
  private tokens = new Map<string, string>();

  constructor(private opts: RegistryOptions, private store: BlobStore) {}

  private base(ref: ImageRef): string {
    const scheme = this.opts.insecure.includes(ref.registry) ? "http" : "https";
    return `${scheme}://${ref.registry}/v2/${ref.repository}`;
  }

  /**
   * One authenticated request. Follows redirects by hand (at most 5, http(s)
   * only), sending credentials to the registry's origin only.
   */
  private async request(ref: ImageRef, path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const first = new URL(`${this.base(ref)}${path}`);
    const scope = `repository:${ref.repository}:pull`;
    const key = `${ref.registry} ${scope}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = this.tokens.get(key);
      const auth = token ? `Bearer ${token}` : this.basicFor(ref.registry, attempt > 0);
      let url = first;
      let res: Response;
      for (let hop = 0; ; hop++) {
        const sameOrigin = url.origin === first.origin;
        res = await fetch(url, { redirect: "manual", signal, headers: { ...headers, "user-agent": "corral-container", ...(auth && sameOrigin ? { authorization: auth } : {}) } });
        const location = res.headers.get("location");
        if (res.status >= 300 && res.status < 400 && location) {
          await res.body?.cancel();
          if (hop >= MAX_REDIRECTS) throw new Error(`${first.href}: more than ${MAX_REDIRECTS} redirects`);
          url = new URL(location, url);
          if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`${first.href}: redirect to ${url.protocol} refused`);
          continue;
        }
        break;
      }
      if (res.status !== 401 || attempt > 0) return res;
      // Unauthorized: learn how from the challenge, then try once more.
      const header = res.headers.get("www-authenticate") ?? "";
      await res.body?.cancel();
      const challenges = parseChallenges(header);
      const bearer = challenges.find((c) => c.scheme === "bearer");
      if (bearer) {
        this.tokens.set(key, await this.fetchToken(ref, bearer, scope, signal));
      } else if (challenges.some((c) => c.scheme === "basic")) {
        if (!this.opts.auth[ref.registry]) throw new Error(`registry ${ref.registry} asks for a password: add it to [plugins.container] auth`);
      } else throw new Error(`registry ${ref.registry} answered 401 with no challenge we understand (${header || "none"})`);
    }
    throw new Error("unreachable");
  }

  private basicFor(registry: string, challenged: boolean): string | undefined {
    const c = this.opts.auth[registry];
    // Credentials are sent once the registry asked (or with the retry), not on the first probe of an open registry.
    if (!c || !challenged) return undefined;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
  }

  private async fetchToken(ref: ImageRef, challenge: Parameters<typeof tokenUrl>[0], scope: string, signal: AbortSignal): Promise<string> {
    const url = tokenUrl(challenge, scope);
    const c = this.opts.auth[ref.registry];
    const headers: Record<string, string> = { "user-agent": "corral-container" };
    if (c) headers.authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
    const res = await fetch(url, { redirect: "error", signal, headers });
    if (!res.ok) throw new Error(`token service ${url.origin}${url.pathname} answered ${res.status}${c ? "" : " (no credentials configured for this registry)"}`);
    const body = await readBounded(res, 64 * 1024);
    let json: { token?: unknown; access_token?: unknown };
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch {
      throw new Error(`token service ${url.origin}: the answer is not JSON`);
    }
    const token = typeof json.token === "string" ? json.token : typeof json.access_token === "string" ? json.access_token : undefined;
    if (!token) throw new Error(`token service ${url.origin}: the answer holds no token`);
    return token;
  }

  /** A manifest or index by tag or digest, verified; returns its digest and body. */
  private async manifest(ref: ImageRef, reference: string, signal: AbortSignal): Promise<{ digest: string; body: string; type: string | null }> {
    const pinned = reference.startsWith("sha256:") ? reference : undefined;
    if (pinned) {
      const cached = this.store.lookup(pinned);
      if (cached) return { digest: pinned, body: readFileSync(cached, "utf8"), type: null };
    }
    const res = await this.request(ref, `/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, signal);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new Error(`image ${ref.registry}/${ref.repository}:${reference} not found`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`registry ${ref.registry} answered ${res.status} for manifest ${reference}`);
    }
    const bytes = await readBounded(res, MAX_DOCUMENT_BYTES);
    const digest = `sha256:${sha256Hex(bytes)}`;
    const claimed = res.headers.get("docker-content-digest");
    if (pinned && digest !== pinned) throw new Error(`manifest ${pinned}: the registry sent content with digest ${digest}; refused`);
    if (!pinned && claimed && claimed.startsWith("sha256:") && claimed !== digest) throw new Error(`manifest ${reference}: content digest ${digest} differs from the registry's Docker-Content-Digest ${claimed}; refused`);
    // Content-addressed from here on: a digest-pinned pull of this image needs no network.
    if (!this.store.lookup(digest)) {
      const tmp = this.store.scratch();
      writeAll(tmp, bytes);
      renameSync(tmp, this.store.pathOf(digest));
    }
    return { digest, body: bytes.toString("utf8"), type: res.headers.get("content-type") };
  }

  /** A blob into the store (unless already there), verified by size and digest; returns its path. */
  async blob(ref: ImageRef, digest: string, size: number, signal: AbortSignal): Promise<{ path: string; fetched: boolean }> {
    const cached = this.store.lookup(digest);
    if (cached) return { path: cached, fetched: false };
    const res = await this.request(ref, `/blobs/${digest}`, {}, signal);
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new Error(`registry ${ref.registry} answered ${res.status} for blob ${digest}`);
    }
    const tmp = this.store.scratch();
    const fd = openSync(tmp, "wx", 0o600);
    const hash = createHash("sha256");
    let got = 0;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        got += chunk.byteLength;
        if (got > size) throw new Error(`blob ${digest}: the registry sent more than its ${size} bytes; refused`);
        hash.update(chunk);
        writeSync(fd, chunk);
      }
      if (got !== size) throw new Error(`blob ${digest}: ${got} bytes received, ${size} expected; refused`);
      const actual = `sha256:${hash.digest("hex")}`;
      if (actual !== digest) throw new Error(`blob ${digest}: the content hashes to ${actual} (corrupted or tampered); refused`);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    closeSync(fd);
    const path = this.store.pathOf(digest);
    renameSync(tmp, path);
    return { path, fetched: true };
  }

  /**
   * Pulls `ref`: its manifest (through an index, the linux/amd64 entry), its
   * config and every layer into the store. Blobs already there are not
   * fetched again. `progress` hears each step (allocation events).
   */
  async pull(ref: ImageRef, progress: PullProgress = () => {}): Promise<PulledImage> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`pull of ${ref.registry}/${ref.repository} took longer than ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
    try {
      let m = await this.manifest(ref, manifestReference(ref), abort.signal);
      let parsed = parseManifest(m.body, m.type);
      if (parsed.kind === "index") {
        const entry = pickPlatform(parsed.manifests);
        m = await this.manifest(ref, entry.digest, abort.signal);
        parsed = parseManifest(m.body, m.type);
        if (parsed.kind !== "manifest") throw new Error(`index entry ${entry.digest} is itself an index; refused`);
      }
      const cfgBlob = await this.blob(ref, parsed.config.digest, parsed.config.size, abort.signal);
      if (parsed.config.size > MAX_DOCUMENT_BYTES) throw new Error(`image config ${parsed.config.digest} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
      const config = parseImageConfig(readFileSync(cfgBlob.path, "utf8"));
      if (config.os !== "linux" || config.architecture !== "amd64") throw new Error(`the image is for ${config.os}/${config.architecture}, this node runs linux/amd64`);
      let fetched = 0;
      for (const [i, layer] of parsed.layers.entries()) {
        const b = await this.blob(ref, layer.digest, layer.size, abort.signal);
        if (b.fetched) {
          fetched++;
          progress(`pulled layer ${i + 1}/${parsed.layers.length} ${layer.digest.slice(7, 19)} (${layer.size} bytes)`);
        }
      }
      progress(fetched ? `pulled ${m.digest} (${fetched} of ${parsed.layers.length} layers fetched)` : `image ${m.digest} already on the node`);
      return { manifestDigest: m.digest, configDigest: parsed.config.digest, config, layers: parsed.layers };
    } catch (err) {
      if (abort.signal.aborted && abort.signal.reason instanceof Error) throw abort.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

async function readBounded(res: Response, max: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  if (res.body) {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      n += c.byteLength;
      if (n > max) throw new Error(`${res.url}: answer larger than ${max} bytes`);
      chunks.push(c);
    }
  }
  return Buffer.concat(chunks);
}

function writeAll(path: string, data: Uint8Array): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
}
