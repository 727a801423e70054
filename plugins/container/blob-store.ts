// The node's content-addressed image store: blobs (layers, configs,
// manifests) by digest under <data_dir>/container/blobs/sha256/<hex>,
// shared by every allocation on the node. A file is there only once its
// bytes were checked against its name (registry.ts writes through a
// temporary name and renames after verification), so a hit needs no
// network and no re-hash. Private to the agent (0700). Least recently used
// blobs go once the total passes the bound, never one in use.
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { DIGEST } from "../../core/sdk/index.ts";

export class BlobStore {
  readonly dir: string;

  constructor(root: string, private maxBytes: number) {
    this.dir = join(root, "blobs", "sha256");
  }

  private ensure(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
  }

  pathOf(digest: string): string {
    if (!DIGEST.test(digest)) throw new Error(`not a sha256 digest: ${digest}`);
    this.ensure();
    return join(this.dir, digest.slice("sha256:".length));
  }

  /** The stored blob, marked as just used; undefined when absent. */
  lookup(digest: string): string | undefined {
    const path = this.pathOf(digest);
    if (!existsSync(path)) return undefined;
    const now = new Date();
    utimesSync(path, now, now);
    return path;
  }

  /** A temporary name in the store's folder (same file system: the rename is atomic). */
  scratch(): string {
    this.ensure();
    return join(this.dir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  }

  /** Drops least recently used blobs until the store fits `max_cache_bytes`, never those in `keep`. */
  trim(keep: ReadonlySet<string>): void {
    this.ensure();
    const entries = readdirSync(this.dir)
      .filter((n) => /^[0-9a-f]{64}$/.test(n) && !keep.has(`sha256:${n}`))
      .map((n) => {
        const path = join(this.dir, n);
        const st = statSync(path);
        return { path, size: st.size, used: st.mtimeMs };
      })
      .sort((a, b) => a.used - b.used);
    let total = entries.reduce((s, e) => s + e.size, 0);
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      rmSync(e.path, { force: true });
      total -= e.size;
    }
  }
}
