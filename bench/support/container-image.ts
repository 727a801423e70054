// A small busybox-static image for container benches and their smoke test:
// one layer (busybox and a few applet links), built into an OCI layout with
// the container tests' helpers and pushed to a registry with skopeo.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUSYBOX, push, tarOf, writeLayout } from "../../test/container/registry-helpers.ts";

const APPLETS = ["sh", "echo", "cat", "ls", "sleep", "true"];

/** Builds the image under `dir` and pushes it to `registryHost/repo:tag`; resolves with the image reference. */
export async function pushBusyboxImage(dir: string, registryHost: string, repo = "bench/busybox", tag = "v1"): Promise<string> {
  const layer = await tarOf([
    { type: "directory", name: "bin" },
    { type: "file", name: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
    ...APPLETS.map((n) => ({ type: "symlink" as const, name: `bin/${n}`, linkname: "/bin/busybox" })),
    { type: "directory", name: "etc" },
    { type: "file", name: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n" },
    { type: "file", name: "etc/group", data: "root:x:0:\n" },
  ]);
  const built = writeLayout(join(dir, "layout"), tag, [layer], { Entrypoint: ["/bin/sh", "-c"], Cmd: ["true"], Env: ["PATH=/bin"] });
  const ref = `${registryHost}/${repo}:${tag}`;
  push(built.layout, tag, ref);
  return ref;
}
