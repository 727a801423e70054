// The node's artifact cache: downloaded files by checksum
// (<data_dir>/exec/artifacts/<algo>-<hex>), so a restarted task or a second
// allocation on this node does not fetch again. Only artifacts with a
// checksum are cached: the name is what was verified. Private to the agent
// (0700); least recently used entries go once the total passes the bound
// (the SDK's LruCacheDir keeps the files).
import { basename } from "node:path";
import { LruCacheDir } from "../../core/sdk/index.ts";
import type { Checksum } from "./artifact-fetch.ts";

export class ArtifactCache {
  private files: LruCacheDir;

  constructor(readonly dir: string, maxBytes: number) {
    this.files = new LruCacheDir(dir, { maxBytes, entryName: /^sha(256|512)-[0-9a-f]+$/ });
  }

  pathOf(c: Checksum): string {
    return this.files.pathOf(`${c.algo}-${c.hex}`);
  }

  /** The cached file for `c`, marked as just used; undefined when not cached. */
  lookup(c: Checksum): string | undefined {
    return this.files.lookup(`${c.algo}-${c.hex}`);
  }

  /** A temporary path for an artifact without checksum (not cached; the caller removes it). */
  scratch(): string {
    return this.files.scratch("tmp-");
  }

  /** Drops least recently used entries until the cache fits, never `keep` (the path of the one just added). */
  trim(keep: string): void {
    const kept = basename(keep);
    this.files.trim((name) => name === kept);
  }
}
