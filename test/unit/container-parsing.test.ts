// The pure parsers of the container driver: image references, registry
// challenges, manifests and image configs (plugins/container/*).
import { describe, expect, test } from "bun:test";
import { parseImageRef } from "../../core/scheduler/image-ref.ts";
import { parseChallenges, tokenUrl } from "../../plugins/container/www-authenticate.ts";
import { MEDIA, parseImageConfig, parseManifest } from "../../plugins/container/manifest.ts";

const D = `sha256:${"a".repeat(64)}`;

describe("image references", () => {
  test("registry, repository, tag and digest", () => {
    expect(parseImageRef("127.0.0.1:5000/team/app:v1")).toEqual({ registry: "127.0.0.1:5000", repository: "team/app", tag: "v1", digest: undefined });
    expect(parseImageRef(`reg.example.com/app@${D}`)).toEqual({ registry: "reg.example.com", repository: "app", tag: undefined, digest: D });
    expect(parseImageRef("busybox")).toEqual({ registry: "registry-1.docker.io", repository: "library/busybox", tag: "latest", digest: undefined });
    expect(parseImageRef("localhost/x:1").registry).toBe("localhost");
    expect(parseImageRef("user/app").registry).toBe("registry-1.docker.io");
  });
  test("malformed ones are refused with the reason", () => {
    expect(() => parseImageRef("reg:5000/App")).toThrow("invalid repository name");
    expect(() => parseImageRef("reg:5000/app@sha256:xyz")).toThrow("the digest must be");
    expect(() => parseImageRef("reg:5000/../etc")).toThrow("invalid repository name");
    expect(() => parseImageRef("")).toThrow();
  });
});

describe("WWW-Authenticate", () => {
  test("Bearer with quoted parameters, and a second scheme", () => {
    const c = parseChallenges(`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push", Basic realm="x"`);
    expect(c).toEqual([
      { scheme: "bearer", params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull,push" } },
      { scheme: "basic", params: { realm: "x" } },
    ]);
    const url = tokenUrl(c[0]!, "repository:a/b:pull");
    expect(url.searchParams.get("scope")).toBe("repository:a/b:pull");
    expect(() => tokenUrl({ scheme: "bearer", params: { realm: "file:///etc/passwd" } }, "s")).toThrow("http(s) only");
  });
});

describe("manifests", () => {
  const desc = (mediaType: string) => ({ mediaType, digest: D, size: 10 });
  test("docker schema 2 and OCI manifests; unknown layer types refused", () => {
    const m = parseManifest(JSON.stringify({ schemaVersion: 2, config: desc("application/vnd.oci.image.config.v1+json"), layers: [desc("application/vnd.docker.image.rootfs.diff.tar.gzip"), desc("application/vnd.oci.image.layer.v1.tar")] }), MEDIA.dockerManifest);
    expect(m).toMatchObject({ kind: "manifest", layers: [{ gzip: true }, { gzip: false }] });
    expect(() => parseManifest(JSON.stringify({ schemaVersion: 2, config: desc("x"), layers: [desc("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")] }), MEDIA.ociManifest)).toThrow("is not supported");
    expect(() => parseManifest(JSON.stringify({ schemaVersion: 1, name: "x" }), "application/vnd.docker.distribution.manifest.v1+prettyjws")).toThrow("schema 1");
    expect(() => parseManifest("{", MEDIA.ociManifest)).toThrow("not JSON");
  });
  test("image config: defaults for what it leaves out", () => {
    expect(parseImageConfig(JSON.stringify({ os: "linux", architecture: "amd64", config: { Cmd: ["sh"], Env: null } }))).toEqual({ user: "", env: [], entrypoint: [], cmd: ["sh"], workingDir: "/", stopSignal: "SIGTERM", diffIds: [], os: "linux", architecture: "amd64" });
  });
});
