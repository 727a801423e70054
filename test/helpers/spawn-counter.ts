// Counts the child processes this process starts: patches node:child_process
// and Bun.spawn. Install it before importing the code under test (e.g.
// systeminformation keeps its own references to exec/execSync from load time).
import { createRequire } from "node:module";

export function installSpawnCounter(): { count(): number } {
  let spawns = 0;
  // node:child_process is built on Bun.spawn: count a call once, at the outermost wrapper.
  let inside = 0;
  const cp = createRequire(import.meta.url)("node:child_process") as Record<string, (...a: unknown[]) => unknown>;
  for (const k of ["exec", "execSync", "execFile", "execFileSync", "spawn", "spawnSync", "fork"]) {
    const orig = cp[k]!;
    cp[k] = function (this: unknown, ...args: unknown[]) {
      spawns++;
      inside++;
      try {
        return orig.apply(this, args);
      } finally {
        inside--;
      }
    };
  }
  const bun = Bun as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const k of ["spawn", "spawnSync"]) {
    const orig = bun[k]!;
    bun[k] = (...args: unknown[]) => {
      if (inside === 0) spawns++;
      return orig(...args);
    };
  }
  return { count: () => spawns };
}
