// The container driver's pull path (plugins/container/registry.ts) against
// the reference registry (Debian's docker-registry) on loopback, with images
// the test builds from busybox-static and pushes with skopeo.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BlobStore } from "../../plugins/container/blob-store.ts";
import { RegistryClient, type RegistryOptions } from "../../plugins/container/registry.ts";
import { parseImageRef } from "../../core/scheduler/image-ref.ts";
import { cleanup, tempDir } from "../helpers/proc.ts";
import { BUSYBOX, push, registryBlobPath, registryToolsMissing, startRegistry, tarOf, writeLayout, type BuiltImage, type Registry } from "./registry-helpers.ts";

const missing = registryToolsMissing();
if (missing) console.log(`skipping container pull tests: ${missing}`);

const dirs: string[] = [];
const registries: Registry[] = [];
function dir(): string {
  const d = tempDir("corral-pull-");
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const r of registries) await r.stop();
  for (const d of dirs) cleanup(d);
});

async function buildImage(tag: string, note: string): Promise<BuiltImage> {
  const base = await tarOf([
    { type: "directory", name: "bin" },
    { type: "file", name: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
    { type: "symlink", name: "bin/sh", linkname: "/bin/busybox" },
  ]);
  const top = await tarOf([{ type: "directory", name: "etc" }, { type: "file", name: "etc/note", data: note }]);
  return writeLayout(join(dir(), "layout"), tag, [base, top], { Entrypoint: ["/bin/sh", "-c"], Cmd: ["cat /etc/note"], Env: ["PATH=/bin"], StopSignal: "SIGUSR1" });
}

function client(store: BlobStore, opts: Partial<RegistryOptions> = {}, insecure: string[] = []) {
  return new RegistryClient({ auth: {}, insecure, timeoutMs: 60_000, ...opts }, store);
}

const fileSha = (p: string) => `sha256:${createHash("sha256").update(readFileSync(p)).digest("hex")}`;

describe.skipIf(!!missing)("pull from an OCI registry", () => {
  let reg: Registry;
  let image: BuiltImage;
  beforeAll(async () => {
    reg = await startRegistry(dir());
    registries.push(reg);
    image = await buildImage("v1", "hello from layer two\n");
    push(image.layout, "v1", `${reg.host}/test/app:v1`);
  }, 120_000);

  test("a tag resolves to the pushed manifest; config and every layer land in the store, verified", async () => {
    const store = new BlobStore(dir(), 1024 ** 3);
    const events: string[] = [];
    const pulled = await client(store, {}, [reg.host]).pull(parseImageRef(`${reg.host}/test/app:v1`), (m) => events.push(m));
    expect(pulled.manifestDigest).toBe(image.manifestDigest);
    expect(pulled.configDigest).toBe(image.configDigest);
    expect(pulled.layers.map((l) => l.digest)).toEqual(image.layerDigests);
    expect(pulled.config.entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(pulled.config.cmd).toEqual(["cat /etc/note"]);
    expect(pulled.config.stopSignal).toBe("SIGUSR1");
    for (const d of [image.configDigest, ...image.layerDigests]) expect(fileSha(store.pathOf(d))).toBe(d);
    expect(events.filter((e) => e.startsWith("pulled layer"))).toHaveLength(2);
    expect(events.at(-1)).toContain("2 of 2 layers fetched");
  }, 60_000);

  test("a second pull fetches nothing; by digest it needs no registry at all", async () => {
    const store = new BlobStore(dir(), 1024 ** 3);
    const c = client(store, {}, [reg.host]);
    await c.pull(parseImageRef(`${reg.host}/test/app:v1`));
    const before = readdirSync(store.dir).map((n) => `${n}:${statSync(join(store.dir, n)).ino}`).sort();
    const events: string[] = [];
    await c.pull(parseImageRef(`${reg.host}/test/app:v1`), (m) => events.push(m));
    expect(events).toEqual([`image ${image.manifestDigest} already on the node`]);
    expect(readdirSync(store.dir).map((n) => `${n}:${statSync(join(store.dir, n)).ino}`).sort()).toEqual(before);
    // The same store, a fresh client, the registry unreachable: a digest-pinned image comes from the store alone.
    const offline = client(store, {}, ["127.0.0.1:1"]);
    const pinned = await offline.pull(parseImageRef(`127.0.0.1:1/test/app@${image.manifestDigest}`));
    expect(pinned.layers.map((l) => l.digest)).toEqual(image.layerDigests);
  }, 60_000);

  test("plain http only for a registry listed as insecure", async () => {
    const store = new BlobStore(dir(), 1024 ** 3);
    const err = await client(store).pull(parseImageRef(`${reg.host}/test/app:v1`)).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error); // https to a plain-http registry fails: no silent downgrade
    expect(existsSync(store.pathOf(image.configDigest))).toBe(false);
  }, 60_000);

  test("an image index: the linux/amd64 entry is pulled; an index without one is refused with what it has", async () => {
    const manifestBody = readFileSync(join(image.layout, "blobs", "sha256", image.manifestDigest.slice(7)));
    const index = (platforms: [string, string][]) => JSON.stringify({
      schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: platforms.map(([os, architecture]) => ({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: image.manifestDigest, size: manifestBody.length, platform: { os, architecture } })),
    });
    for (const [tag, body] of [["multi", index([["linux", "arm64"], ["linux", "amd64"]])], ["armonly", index([["linux", "arm64"]])]] as const) {
      const res = await fetch(`http://${reg.host}/v2/test/app/manifests/${tag}`, { method: "PUT", headers: { "content-type": "application/vnd.oci.image.index.v1+json" }, body });
      expect(res.status).toBe(201);
    }
    const store = new BlobStore(dir(), 1024 ** 3);
    const pulled = await client(store, {}, [reg.host]).pull(parseImageRef(`${reg.host}/test/app:multi`));
    expect(pulled.manifestDigest).toBe(image.manifestDigest);
    const err = await client(store, {}, [reg.host]).pull(parseImageRef(`${reg.host}/test/app:armonly`)).then(() => undefined, (e: Error) => e.message);
    expect(err).toBe("the image has no linux/amd64 variant (it has: linux/arm64)");
  }, 60_000);

  test("a corrupted layer blob is refused and nothing of it is kept", async () => {
    const other = await buildImage("v2", "a different note\n");
    push(other.layout, "v2", `${reg.host}/test/bad:v2`);
    const blob = registryBlobPath(reg, other.layerDigests[1]!);
    const bytes = readFileSync(blob);
    bytes[bytes.length - 5] ^= 0xff; // same size, different content
    writeFileSync(blob, bytes);
    const store = new BlobStore(dir(), 1024 ** 3);
    const err = await client(store, {}, [reg.host]).pull(parseImageRef(`${reg.host}/test/bad:v2`)).then(() => undefined, (e: Error) => e.message);
    expect(err).toContain(`blob ${other.layerDigests[1]}: the content hashes to sha256:`);
    expect(err).toContain("refused");
    expect(existsSync(store.pathOf(other.layerDigests[1]!))).toBe(false);
    expect(readdirSync(store.dir).filter((n) => n.startsWith(".tmp"))).toEqual([]);
  }, 120_000);
});

describe.skipIf(!!missing)("registry authentication", () => {
  let reg: Registry;
  let image: BuiltImage;
  beforeAll(async () => {
    const d = dir();
    const htpasswd = join(d, "htpasswd");
    writeFileSync(htpasswd, `puller:${await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 4 })}\n`);
    reg = await startRegistry(d, { htpasswd });
    registries.push(reg);
    image = await buildImage("v1", "private\n");
    push(image.layout, "v1", `${reg.host}/team/private:v1`, "puller:s3cret");
  }, 120_000);

  test("basic auth: refused without `auth` for the registry, pulled with it", async () => {
    const store = new BlobStore(dir(), 1024 ** 3);
    const ref = parseImageRef(`${reg.host}/team/private:v1`);
    const err = await client(store, {}, [reg.host]).pull(ref).then(() => undefined, (e: Error) => e.message);
    expect(err).toBe(`registry ${reg.host} asks for a password: add it to [plugins.container] auth`);
    const wrong = await client(store, { auth: { [reg.host]: { username: "puller", password: "nope" } } }, [reg.host]).pull(ref).then(() => undefined, (e: Error) => e.message);
    expect(wrong).toContain("answered 401");
    const pulled = await client(store, { auth: { [reg.host]: { username: "puller", password: "s3cret" } } }, [reg.host]).pull(ref);
    expect(pulled.manifestDigest).toBe(image.manifestDigest);
  }, 60_000);

  test("token auth: a Bearer challenge sends the client to the realm for a pull-scoped token, with the configured credentials", async () => {
    // A token-auth front for the registry (the shape of Docker Hub's): /token hands out a token for
    // puller:s3cret; /v2/* wants it as Bearer and passes on to the registry with the registry's own basic auth.
    const seen: { scope?: string | null; service?: string | null; bearer: number } = { bearer: 0 };
    let frontPort = 0;
    const front: ReturnType<typeof Bun.serve> = Bun.serve({
      port: 0, hostname: "127.0.0.1",
      async fetch(req): Promise<Response> {
        const url = new URL(req.url);
        if (url.pathname === "/token") {
          if (req.headers.get("authorization") !== `Basic ${btoa("puller:s3cret")}`) return new Response("no", { status: 401 });
          seen.scope = url.searchParams.get("scope");
          seen.service = url.searchParams.get("service");
          return Response.json({ token: "tok-123" });
        }
        if (req.headers.get("authorization") !== "Bearer tok-123") {
          return new Response("{}", { status: 401, headers: { "www-authenticate": `Bearer realm="http://127.0.0.1:${frontPort}/token",service="front",scope="repository:team/private:pull,push"` } });
        }
        seen.bearer++;
        const res = await fetch(`http://${reg.host}${url.pathname}`, { headers: { accept: req.headers.get("accept") ?? "*/*", authorization: `Basic ${btoa("puller:s3cret")}` } });
        return new Response(res.body, { status: res.status, headers: res.headers });
      },
    });
    frontPort = front.port!;
    try {
      const host = `127.0.0.1:${front.port}`;
      const store = new BlobStore(dir(), 1024 ** 3);
      const pulled = await client(store, { auth: { [host]: { username: "puller", password: "s3cret" } } }, [host]).pull(parseImageRef(`${host}/team/private:v1`));
      expect(pulled.manifestDigest).toBe(image.manifestDigest);
      expect(seen.scope).toBe("repository:team/private:pull"); // what the pull needs, not the challenge's push
      expect(seen.service).toBe("front");
      expect(seen.bearer).toBe(4); // manifest, config, two layers: one token for all
    } finally {
      front.stop(true);
    }
  }, 60_000);
});
