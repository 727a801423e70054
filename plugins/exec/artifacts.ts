// The artifact hook: before a task starts, fetch its `artifacts` (Nomad's
// artifact_hook) into its folder. The download (artifact-fetch.ts) runs as
// the agent, bounded and verified, through the node's cache
// (artifact-cache.ts); unpacking (artifact-unpack.ts) writes only inside the
// destination, owned by the task's user. Any failure is one Error naming the
// artifact and the reason; the task runner reports it as the task's event
// and applies the restart policy.
import { basename } from "node:path";
import { isInsidePath, type TaskArtifact } from "../../core/sdk/index.ts";
import { download, parseChecksum, type FetchLimits } from "./artifact-fetch.ts";
import { ArtifactCache } from "./artifact-cache.ts";
import { archiveKind, placeFile, SafeTree, unpack, type Owner } from "./artifact-unpack.ts";
import { rmSync } from "node:fs";

export interface ArtifactDeps {
  cache: ArtifactCache;
  limits: FetchLimits;
}

/** The file a fetched artifact is, from the cache or downloaded now; `temporary` ones are removed after use. */
async function obtain(a: TaskArtifact, d: ArtifactDeps): Promise<{ file: string; temporary: boolean; cached: boolean }> {
  if (a.checksum) {
    const sum = parseChecksum(a.checksum);
    const hit = d.cache.lookup(sum);
    if (hit) return { file: hit, temporary: false, cached: true };
    const path = d.cache.pathOf(sum);
    await download(a.source, path, sum, d.limits);
    d.cache.trim(path);
    return { file: path, temporary: false, cached: false };
  }
  const path = d.cache.scratch();
  await download(a.source, path, undefined, d.limits);
  return { file: path, temporary: true, cached: false };
}

/** Puts one artifact in place under `taskDir`. */
async function place(a: TaskArtifact, file: string, taskDir: string, owner: Owner, maxBytes: number): Promise<void> {
  // Checked again here: interpolation (${...}) may have changed it since the job was validated.
  if (!isInsidePath(a.destination)) throw new Error(`destination ${JSON.stringify(a.destination)} is outside the task directory`);
  const kind = a.mode === "file" ? undefined : archiveKind(a.source);
  if (a.mode === "dir" && !kind) throw new Error(`mode "dir" needs an archive (.tar.gz, .tgz, .tar or .zip)`);
  const parts = a.destination.split("/").filter((p) => p !== "" && p !== ".");
  const what = `destination ${JSON.stringify(a.destination)}`;
  if (kind) return unpack(file, kind, SafeTree.walk(taskDir, parts, owner, what), owner, maxBytes);
  // A plain file: into the destination folder under the URL's name, or (mode "file", no trailing "/") as the destination itself.
  const asFile = a.mode === "file" && !a.destination.endsWith("/") && parts.length > 0;
  const dirParts = asFile ? parts.slice(0, -1) : parts;
  const name = asFile ? parts.at(-1)! : basename(new URL(a.source).pathname) || "artifact";
  placeFile(file, `${SafeTree.walk(taskDir, dirParts, owner, what)}/${name}`, owner);
}

/**
 * Fetches and places every artifact of a task, in order. Resolves with one
 * line per artifact for the task's events; rejects with an Error naming the
 * failing artifact and why.
 */
export async function fetchArtifacts(artifacts: readonly TaskArtifact[], taskDir: string, owner: Owner, d: ArtifactDeps): Promise<string[]> {
  const done: string[] = [];
  for (const a of artifacts) {
    let got: Awaited<ReturnType<typeof obtain>> | undefined;
    try {
      got = await obtain(a, d);
      await place(a, got.file, taskDir, owner, d.limits.maxBytes);
      done.push(`${a.source}${got.cached ? " (cached)" : ""} → ${a.destination}`);
    } catch (err) {
      throw new Error(`artifact ${a.source}: ${(err as Error).message}`);
    } finally {
      if (got?.temporary) rmSync(got.file, { force: true });
    }
  }
  return done;
}
