// The node's artifact cache: downloaded files by checksum
// (<data_dir>/exec/artifacts/<algo>-<hex>), so a restarted task or a second
// allocation on this node does not fetch again. Only artifacts with a
// checksum are cached: the name is what was verified. Private to the agent
// (0700); least recently used entries go once the total passes the bound.
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import type { Checksum } from "./artifact-fetch.ts";

export class ArtifactCache {
  constructor(readonly dir: string, private maxBytes: number) {}

  private ensure(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
  }

  pathOf(c: Checksum): string {
    this.ensure();
    return join(this.dir, `${c.algo}-${c.hex}`);
  }

  /** The cached file for `c`, marked as just used; undefined when not cached. */
  lookup(c: Checksum): string | undefined {
    const path = this.pathOf(c);
    if (!existsSync(path)) return undefined;
    const now = new Date();
    utimesSync(path, now, now);
    return path;
  }

  /** A temporary path for an artifact without checksum (not cached; the caller removes it). */
  scratch(): string {
    this.ensure();
    return join(this.dir, `tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  }

  /** Drops least recently used entries until the cache fits, never `keep` (the one just added). */
  trim(keep: string): void {
    const entries = readdirSync(this.dir)
      .filter((n) => /^sha(256|512)-[0-9a-f]+$/.test(n))
      .map((n) => {
        const path = join(this.dir, n);
        const st = statSync(path);
        return { path, size: st.size, used: st.mtimeMs };
      })
      .sort((a, b) => a.used - b.used);
    let total = entries.reduce((s, e) => s + e.size, 0);
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (e.path === keep) continue;
      rmSync(e.path, { force: true });
      total -= e.size;
    }
  }
}
