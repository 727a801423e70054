// The node's content-addressed image store: blobs (layers, configs,
// manifests) by digest under <data_dir>/container/blobs/sha256/<hex>,
// shared by every allocation on the node. A file is there only once its
// bytes were checked against its name (registry.ts writes through a
// temporary name and renames after verification), so a hit needs no
// network and no re-hash. Private to the agent (0700). Least recently used
// blobs go once the total passes the bound, and any unused for longer than
// the age bound, never one in use (the SDK's LruCacheDir keeps the files).
import { join } from "node:path";
import { DIGEST, LruCacheDir } from "../../core/sdk/index.ts";

export class BlobStore {
  readonly dir: string;
  private files: LruCacheDir;

  constructor(root: string, maxBytes: number, maxAgeMs = 0) {
    this.dir = join(root, "blobs", "sha256");
    this.files = new LruCacheDir(this.dir, { maxBytes, maxAgeMs, entryName: /^[0-9a-f]{64}$/ });
  }

  private static hex(digest: string): string {
    if (!DIGEST.test(digest)) throw new Error(`not a sha256 digest: ${digest}`);
    return digest.slice("sha256:".length);
  }

  pathOf(digest: string): string {
    return this.files.pathOf(BlobStore.hex(digest));
  }

  /** The stored blob, marked as just used; undefined when absent. */
  lookup(digest: string): string | undefined {
    return this.files.lookup(BlobStore.hex(digest));
  }

  /** A temporary name in the store's folder (same file system: the rename is atomic). */
  scratch(): string {
    return this.files.scratch(".tmp-");
  }

  /** Drops blobs past the age bound and least recently used ones until the store fits, never those in `keep`; the digests removed. */
  trim(keep: ReadonlySet<string>): string[] {
    return this.files.trim((hex) => keep.has(`sha256:${hex}`)).map((hex) => `sha256:${hex}`);
  }
}
