// A folder of cache files, each named by what it holds (a digest, a
// checksum), bounded by total size and optionally by age: the one place the
// node's content-addressed caches (the container driver's blob store, the
// exec driver's artifact cache) keep, touch and trim their files. "Used" is
// the file's mtime, set on every hit, so least recently used go first and
// an agent restart keeps the order. Private to the agent (0700).
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";

export interface LruCacheDirOptions {
  /** Above this total the least recently used files go. */
  maxBytes: number;
  /** Files unused for longer go at every trim, whatever the total; 0: no age bound. */
  maxAgeMs?: number;
  /** Which names in the folder are cache entries (temporary files and anything else are never counted or removed). */
  entryName: RegExp;
}

export class LruCacheDir {
  constructor(readonly dir: string, private o: LruCacheDirOptions) {}

  /** The folder, made private if it is not yet (an older agent may have made it wider). */
  ensure(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
  }

  /** Where the entry `name` is (or goes). */
  pathOf(name: string): string {
    this.ensure();
    return join(this.dir, name);
  }

  /** The entry's path, marked as just used; undefined when absent. */
  lookup(name: string): string | undefined {
    const path = this.pathOf(name);
    if (!existsSync(path)) return undefined;
    const now = new Date();
    utimesSync(path, now, now);
    return path;
  }

  /** A temporary name in the folder (same file system: a rename into place is atomic). */
  scratch(prefix: string): string {
    this.ensure();
    return join(this.dir, `${prefix}${process.pid}-${Math.random().toString(36).slice(2)}`);
  }

  /**
   * Removes entries unused for longer than maxAgeMs, then least recently
   * used ones until the total fits maxBytes; never one `keep` names (in use
   * or just added). Returns the names removed.
   */
  trim(keep: (name: string) => boolean = () => false, now = Date.now()): string[] {
    this.ensure();
    const entries = readdirSync(this.dir)
      .filter((n) => this.o.entryName.test(n))
      .flatMap((name) => {
        try {
          const st = statSync(join(this.dir, name));
          return [{ name, size: st.size, used: st.mtimeMs }];
        } catch {
          return []; // removed meanwhile
        }
      })
      .sort((a, b) => a.used - b.used);
    let total = entries.reduce((s, e) => s + e.size, 0);
    const removed: string[] = [];
    const maxAge = this.o.maxAgeMs ?? 0;
    for (const e of entries) {
      const stale = maxAge > 0 && now - e.used > maxAge;
      if (!stale && total <= this.o.maxBytes) continue; // oldest first: a fresh one here may still be followed by nothing to do
      if (keep(e.name)) continue;
      rmSync(join(this.dir, e.name), { force: true });
      total -= e.size;
      removed.push(e.name);
    }
    return removed;
  }
}
